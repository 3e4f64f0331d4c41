"""The forwarded message inside a staff member's forward (spec, "Staff invite address").

A forward is either attached (message/rfc822) or inline below the forwarder's note, after
one of the clients' markers: Gmail's "---------- Forwarded message ---------", Outlook's
"-----Original Message-----" or From/Sent/To/Subject block, Apple Mail's "Begin forwarded
message:", Thunderbird's "-------- Forwarded Message --------" and its header table.
"""

from __future__ import annotations

from dataclasses import dataclass

from parsers.addresses import addresses_in_text
from parsers.html import html_to_text
from parsers.mime import ParsedMail
from parsers.quotes import (
    extract_reply,
    header_block_at,
    is_forward_intro,
    is_separator,
    split_lines,
)

HEADER_SEARCH_LINES = 4  # blank lines allowed between a marker and the header block under it


@dataclass(frozen=True)
class Forward:
    note: str                    # the forwarder's own text above the forwarded part, signature removed
    original_sender: str | None  # lowercased addr-spec of the forwarded message's From, or None


def split_forward(mail: ParsedMail) -> Forward:
    if mail.attached_messages:
        attached = mail.attached_messages[0]
        sender = attached.from_addresses[0] if attached.from_addresses else None
        return Forward(extract_reply(mail.text, mail.html).text, sender)
    text = mail.text if mail.text and not mail.text.isspace() else html_to_text(mail.html or "").text
    lines = split_lines(text)
    found = _find_forward(lines)
    if found is None:
        return Forward(extract_reply(mail.text, mail.html).text, None)
    start, sender = found
    return Forward(extract_reply("\n".join(lines[:start])).text, sender)


def _find_forward(lines: list[str]) -> tuple[int, str | None] | None:
    """(first line of the forwarded part, its sender) of the topmost inline forward."""
    for i, line in enumerate(lines):
        if is_separator(line) or is_forward_intro(line):
            return i, _sender_below(lines, i + 1)
        fields = header_block_at(lines, i)
        if fields is not None:
            return i, _address(fields["from"])
    return None


def _sender_below(lines: list[str], start: int) -> str | None:
    for i in range(start, min(len(lines), start + HEADER_SEARCH_LINES)):
        fields = header_block_at(lines, i)
        if fields is not None:
            return _address(fields["from"])
    return None


def _address(value: str | None) -> str | None:
    found = addresses_in_text(value or "")
    return found[0] if found else None
