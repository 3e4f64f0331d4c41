"""Exact-match rate of extract_reply over the reply corpus in tests/mail.

    .venv/bin/python bench/trim_score.py [-v]

The corpus: every case of the four reply-parser corpora that pins the new post
(tests/mail/*_email_reply_parser/cases.json; where the gateway deliberately disagrees with
upstream, the expectation of tests/parsers/test_quotes.py's OVERRIDES table, with its
reason, is used), and every message in tests/mail/clients with its golden
<name>.expected.txt beside it (parsed with parse_message, so HTML-only mail goes through the
HTML path). A case matches when the new text equals the expectation after strip().
Prints "N/M = P%" on the first line; -v lists the misses.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from parsers.mime import parse_message  # noqa: E402
from parsers.quotes import extract_reply  # noqa: E402


def _test_quotes():
    spec = importlib.util.spec_from_file_location("_trim_corpus", ROOT / "tests" / "parsers" / "test_quotes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def cases() -> list[tuple[str, str, str]]:
    """(case id, got, expected) for every case of the corpus."""
    tq = _test_quotes()
    out = []
    for case_id, text, case in tq.NEW_POST_CASES:
        expected = case["new_post"]
        override = tq.OVERRIDES.get(case_id)
        if override is not None:
            expected = override.expected(expected, text)
        out.append((case_id, extract_reply(text).text, expected))
    for golden in sorted((ROOT / "tests" / "mail" / "clients").glob("*.expected.txt")):
        message = golden.with_name(golden.name.removesuffix(".expected.txt") + ".eml")
        mail = parse_message(message.read_bytes())
        out.append((f"clients:{message.name}", extract_reply(mail.text, mail.html).text,
                    golden.read_text(encoding="utf-8")))
    return out


def main(argv: list[str]) -> int:
    results = cases()
    matched = [(c, g, e) for c, g, e in results if g.strip() == e.strip()]
    total = len(results)
    print(f"{len(matched)}/{total} = {100 * len(matched) / total:.1f}%")
    if "-v" in argv:
        for case_id, got, expected in results:
            if got.strip() != expected.strip():
                print(f"\nMISS {case_id}\n--- expected\n{expected.strip()}\n--- got\n{got.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
