"""Text from mail made safe to print on a terminal: what a terminal would act on, or what would
reorder the line around it, is shown as a visible escape (\\x1b, \\u202e) instead."""

from __future__ import annotations

import re

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # marks, embeddings, overrides, isolates
_CONTROLS = "\x7f-\x9f" + _BIDI + "\u2028\u2029"     # DEL, C1 (CSI, OSC...), bidi, line separators
_IN_LINE = re.compile(f"[\x00-\x1f{_CONTROLS}]")
_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f{_CONTROLS}]")  # newline and tab keep their meaning
_RAW_IN_JSON = re.compile(f"[{_CONTROLS}]")  # json.dumps escapes C0 itself


def shown(text: object, *, lines: bool = False) -> str:
    """str(text) with control characters as escapes; lines=True keeps newlines and tabs (a body)."""
    return (_IN_TEXT if lines else _IN_LINE).sub(_escape, str(text))


def shown_json(document: str) -> str:
    """JSON text with the controls json.dumps leaves raw written as \\u escapes (the same data)."""
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", document)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
