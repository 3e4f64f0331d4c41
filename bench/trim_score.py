"""Exact-match rate of extract_reply over the reply corpus in tests/mail.

    .venv/bin/python bench/trim_score.py [--set seen|unseen|all|fresh] [-v]

Three sets of cases:

- seen: the corpus the trimmer was built against: every case of the four reply-parser corpora
  that pins the new post (tests/mail/*_email_reply_parser/cases.json; where the gateway
  deliberately disagrees with upstream, the expectation of tests/parsers/test_quotes.py's
  OVERRIDES table, with its reason, is used), and every message in tests/mail/clients.
- unseen: the held-out replies of tests/mail/unseen (see its README), kept out of the rules'
  making; their score is the honest estimate for mail the trimmer has never seen.
- fresh: tests/mail/fresh (see its README), a batch per class of issue 15, written after
  that work and scored once; reported on its own (not in "all"), per class. Each message is
  scored the way the pipeline makes its post, parsers.content.reply_content (the trimmed text,
  a forwarded message, or the attachments named), and counts only when the mail would post at
  all: classified as a post, with one From address.

A message (.eml) is parsed with parse_message and trimmed the way the pipeline does it: its
text part when it has one, else its HTML. A message with both parts is scored a second time
on its HTML part alone ("name.eml[html]"), since many clients send HTML only. A .txt case is
trimmed as plain text. The golden is <name>.expected.txt beside the message;
<name>.html.expected.txt, when present, is the golden of the HTML part (where the rendering
differs from the text part, e.g. a hard-wrapped line).

A case matches when the new text equals the golden after strip(). Where the text came from
HTML, line layout is the renderer's choice, not the writer's: blank lines (and lines of bare
">" marks) are ignored and trailing spaces dropped, every other line must be equal.

Prints "N/M = P%" for the chosen set on the first line (default: seen); --set all prints
the seen, unseen and whole-corpus figures; --set fresh adds a line per class; -v lists the
misses.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from parsers.classify import Kind, classify  # noqa: E402
from parsers.content import reply_content  # noqa: E402
from parsers.mime import ParsedMail, parse_message  # noqa: E402
from parsers.quotes import extract_reply  # noqa: E402

MAIL = ROOT / "tests" / "mail"
SETS = ("seen", "unseen", "fresh")


@dataclass(frozen=True)
class Case:
    case_id: str
    got: str
    expected: str
    from_html: bool = False

    @property
    def matched(self) -> bool:
        if self.from_html:
            return _layout_free(self.got) == _layout_free(self.expected)
        return self.got.strip() == self.expected.strip()


def _layout_free(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip(" \t>")]


def _test_quotes():
    spec = importlib.util.spec_from_file_location("_trim_corpus", ROOT / "tests" / "parsers" / "test_quotes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _golden(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def folder_cases(folder: Path, post=None) -> list[Case]:
    """The cases of one folder of messages (.eml) and plain-text replies (.txt) with goldens.
    post(mail) gives a message's post text; by default the trimmer's (extract_reply)."""
    post = post or (lambda mail: extract_reply(mail.text, mail.html).text)
    out = []
    for golden in sorted(folder.glob("*.expected.txt")):
        stem = golden.name.removesuffix(".expected.txt")
        if stem.endswith(".html"):
            continue
        label = f"{folder.name}:{stem}"
        text_input = golden.with_name(f"{stem}.txt")
        if text_input.exists():
            text = text_input.read_text(encoding="utf-8")
            out.append(Case(f"{label}.txt", extract_reply(text).text, _golden(golden)))
            continue
        mail = parse_message(golden.with_name(f"{stem}.eml").read_bytes())
        out.append(Case(f"{label}.eml", post(mail), _golden(golden), from_html=not mail.text and bool(mail.html)))
        if mail.text and mail.html:
            html_golden = golden.with_name(f"{stem}.html.expected.txt")
            expected = _golden(html_golden if html_golden.exists() else golden)
            out.append(Case(f"{label}.eml[html]", post(replace(mail, text=None)), expected, from_html=True))
    return out


def _pipeline_post(mail: ParsedMail) -> str:
    """The post the pipeline makes of a reply, or "(not posted: why)" when it would make none."""
    kind = classify(mail, None)
    if kind.kind is not Kind.POST:
        return f"(not posted: {kind.reason})"
    if len(mail.from_addresses) != 1:
        return f"(not posted: From addresses {list(mail.from_addresses)})"
    return reply_content(mail).text


def seen_cases() -> list[Case]:
    tq = _test_quotes()
    out = []
    for case_id, text, case in tq.NEW_POST_CASES:
        expected = case["new_post"]
        override = tq.OVERRIDES.get(case_id)
        if override is not None:
            expected = override.expected(expected, text)
        out.append(Case(case_id, extract_reply(text).text, expected))
    return out + folder_cases(MAIL / "clients")


def unseen_cases() -> list[Case]:
    return folder_cases(MAIL / "unseen")


def fresh_cases() -> list[Case]:
    return folder_cases(MAIL / "fresh", post=_pipeline_post)


FRESH_CLASSES = {
    "c1": "attributions", "c2": "inline answers", "c3": "delimiter lines", "c4": "only an attachment",
    "c5": "forwards", "c6": "charsets declared wrong", "c7": "From headers", "c8": "automatic or not",
}


def _by_class(cases: list[Case]) -> str:
    lines = []
    for key, name in FRESH_CLASSES.items():
        mine = [case for case in cases if case.case_id.startswith(f"fresh:b3_{key}_")]
        if mine:
            lines.append(f"  {key} {name:<24} {score_line(mine)}")
    return "\n".join(lines)


def score_line(cases: list[Case]) -> str:
    matched = sum(case.matched for case in cases)
    return f"{matched}/{len(cases)} = {100 * matched / len(cases):.1f}%"


def _misses(cases: list[Case]) -> None:
    for case in cases:
        if not case.matched:
            print(f"\nMISS {case.case_id}\n--- expected\n{case.expected.strip()}\n--- got\n{case.got.strip()}")


def main(argv: list[str]) -> int:
    chosen = "seen"
    if "--set" in argv:
        at = argv.index("--set")
        chosen = argv[at + 1] if at + 1 < len(argv) else ""
        if chosen not in (*SETS, "all"):
            print("usage: trim_score.py [--set seen|unseen|all|fresh] [-v]", file=sys.stderr)
            return 2
    if chosen == "all":
        seen, unseen = seen_cases(), unseen_cases()
        print(f"seen   {score_line(seen)}\nunseen {score_line(unseen)}\nwhole  {score_line(seen + unseen)}")
        cases = seen + unseen
    elif chosen == "fresh":
        cases = fresh_cases()
        print(f"{score_line(cases)}\n{_by_class(cases)}")
    else:
        cases = seen_cases() if chosen == "seen" else unseen_cases()
        print(score_line(cases))
    if "-v" in argv:
        _misses(cases)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
