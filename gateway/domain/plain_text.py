"""Text that people typed, made fit for the one-line fields (subjects, names) it fills."""

from __future__ import annotations

# C0 and C1 control characters other than white space (which one_line turns into single spaces)
_CONTROLS = dict.fromkeys(c for c in (*range(0x20), *range(0x7F, 0xA0)) if not chr(c).isspace())


def one_line(text: str) -> str:
    """No control characters, and each run of white space (line breaks too) one space.

    Whatever is stored and whatever a header carries pass through here, so both say the same."""
    return " ".join(text.translate(_CONTROLS).split())
