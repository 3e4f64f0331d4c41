"""The forwarded message inside a forward: for a staff member's forward to an invite address
(spec, "Staff invite address"), the note and the forwarded message's sender (split_forward);
for a forward to a reply or the support address, the forwarded text that it posts
(forwarded_message).

A forward is either attached (message/rfc822) or inline below the forwarder's note, after
one of the clients' markers: Gmail's "---------- Forwarded message ---------", Outlook's
"-----Original Message-----" or From/Sent/To/Subject block, Apple Mail's "Begin forwarded
message:", Thunderbird's "-------- Forwarded Message --------" and its header table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.addresses import addresses_in_text
from parsers.html import html_to_text
from parsers.mime import ParsedMail
from parsers.quotes import (
    extract_reply,
    header_block_at,
    header_field,
    is_forward_intro,
    is_forward_separator,
    is_separator,
    split_lines,
)

HEADER_SEARCH_LINES = 4  # blank lines allowed between a marker and the header block under it
HEADER_WRAPPED_LINES = 2  # lines of one header field that the client wrapped ("To: a,\n b")


@dataclass(frozen=True)
class Forward:
    note: str                    # the forwarder's own text above the forwarded part, signature removed
    original_sender: str | None  # lowercased addr-spec of the forwarded message's From, or None


def split_forward(mail: ParsedMail) -> Forward:
    if mail.attached_messages:
        attached = mail.attached_messages[0]
        sender = attached.from_addresses[0] if attached.from_addresses else None
        return Forward(extract_reply(mail.text, mail.html).text, sender)
    lines = split_lines(_text_of(mail))
    found = _find_forward(lines)
    if found is None:
        return Forward(extract_reply(mail.text, mail.html).text, None)
    start, sender = found
    return Forward(extract_reply("\n".join(lines[:start])).text, sender)


# Subject prefixes with which clients mark a forward: Fwd/Fw, and Outlook's translations (WG de,
# TR fr, RV es, ENC pt, Doorst nl, VB sv, VL fi, PD pl). Reply prefixes (Re, AW, SV, VS...) are not.
_FORWARD_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)?(?:fwd?|wg|tr|rv|enc|doorst|vb|vl|pd)\s*(?:\[\d+\])?\s*:", re.I)


def forwarded_message(mail: ParsedMail) -> str | None:
    """The text of the message that `mail` forwards, without the forward's header block, when
    `mail` is a forward: one with a forward marker (Gmail's and Thunderbird's separator, Apple
    Mail's "Begin forwarded message:"), or with a forward subject ("Fwd:", "WG:") above an
    Outlook header block, an "Original Message" separator or an attached message. A reply's
    quoted history is no forward. None when it is none, or forwards nothing but headers."""
    forward_subject = bool(_FORWARD_SUBJECT.match(mail.subject or ""))
    if mail.attached_messages:
        if not forward_subject:
            return None
        attached = mail.attached_messages[0]
        return _text_of(attached).strip("\n") or None
    lines = split_lines(_text_of(mail))
    found = _find_forward(lines)
    if found is None:
        return None
    start = found[0]
    if not (forward_subject or is_forward_separator(lines[start]) or is_forward_intro(lines[start])):
        return None
    return "\n".join(lines[_below_header_block(lines, start):]).strip("\n").rstrip() or None


def _below_header_block(lines: list[str], start: int) -> int:
    """The first line below the forward marker at `start` and the header block under it."""
    i = start + 1 if header_field(lines[start]) is None else start
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or header_field(lines[i]) is None:
        return i  # a marker with no header block under it
    last = j = i
    while j < len(lines) and j - last <= HEADER_WRAPPED_LINES and lines[j].strip():
        if header_field(lines[j]) is not None:
            last = j
        j += 1
    return last + 1


def _text_of(mail: ParsedMail) -> str:
    """The text part, else the HTML part rendered (all of it: the forwarded message included)."""
    return mail.text if mail.text and not mail.text.isspace() else html_to_text(mail.html or "").text


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
