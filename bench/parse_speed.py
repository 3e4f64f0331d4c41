"""How long parsing and trimming take on the inputs built to be slow, and on the public corpora.

    .venv/bin/python bench/parse_speed.py

The tests only check that these inputs are handled (a timeout there catches a hang); the
seconds are measured here. Each line: the input, the seconds of one run (best of 3), and the
bound it is meant to stay under (the reply-parser corpora's own speed checks among them). The last line is the slowest message of the MIME corpora.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "parsers")]

from parsers.mime import MalformedMessage, parse_message  # noqa: E402
from parsers.quotes import extract_reply  # noqa: E402
from test_mime_charsets import HOSTILE_STRUCTURES  # noqa: E402
from test_quotes import CHECK_CASES, FAST_INPUTS, HOSTILE_HTML  # noqa: E402

CORPORA = ("mailgun_flanker_messages", "cpython_email_testdata", "spamscope_mail_parser")


def best_of_three(work: Callable[[], object]) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        try:
            work()
        except MalformedMessage:
            pass
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    rows: list[tuple[str, float, float]] = []
    for name, (text, html) in FAST_INPUTS.items():
        rows.append((f"trim 1 MB: {name}", best_of_three(lambda: extract_reply(text, html)), 1.0))
    for name, markup in HOSTILE_HTML.items():
        rows.append((f"trim hostile HTML: {name}", best_of_three(lambda: extract_reply(None, markup)), 2.0))
    for case_id, text, case in CHECK_CASES:  # the reply-parser corpora's own speed checks
        for check in (c for c in case["checks"] if c["type"] == "perf"):
            rows.append((f"trim {case_id}", best_of_three(lambda: extract_reply(text)), float(check["max_seconds"])))
    for name, raw in HOSTILE_STRUCTURES.items():
        rows.append((f"parse hostile MIME: {name}", best_of_three(lambda: parse_message(raw)), 2.0))
    slowest = ("", 0.0)
    for corpus in CORPORA:
        folder = ROOT / "tests" / "mail" / corpus
        for case in json.loads((folder / "cases.json").read_text(encoding="utf-8")):
            raw = (folder / case["file"]).read_bytes()
            seconds = best_of_three(lambda: parse_message(raw))
            slowest = max(slowest, (f"{corpus}:{case['case_id']}", seconds), key=lambda pair: pair[1])
    rows.append((f"slowest corpus message ({slowest[0]})", slowest[1], 2.0))
    width = max(len(name) for name, _, _ in rows)
    over = 0
    for name, seconds, bound in rows:
        flag = "" if seconds < bound else "  OVER"
        over += bool(flag)
        print(f"{name.ljust(width)}  {seconds:6.3f} s  (bound {bound:.0f} s){flag}")
    print(f"{len(rows) - over}/{len(rows)} under their bound")
    return 0


if __name__ == "__main__":
    sys.exit(main())
