"""split_forward: the forwarder's note and the forwarded message's sender, per client format."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.forwards import Forward, split_forward
from parsers.mime import parse_message

FORWARDS = Path(__file__).resolve().parents[1] / "mail" / "forwards"

CASES = [
    ("gmail_inline.eml",
     Forward("Please add Dana as a delegate, and dana.backup@example.net too.", "dana@example.net")),
    ("outlook_original_message.eml",
     Forward("Please invite the customer's accountant, erin@example.org.", "frank.customer@example.com")),
    ("outlook_web_separator.eml", Forward("FYI, invite the sender please.", "grace@example.org")),
    ("outlook_web_html.eml", Forward("FYI, invite the sender please.", "grace@example.org")),
    ("apple_mail.eml", Forward("Please add her to the ticket.", "hana@example.net")),
    ("thunderbird.eml", Forward("Please invite Ivan (the owner's partner): ivan@example.com", "jules@example.com")),
    ("thunderbird_html.eml",
     Forward("Please invite Ivan (the owner's partner): ivan@example.com", "jules@example.com")),
    ("attached.eml", Forward("Forwarding as an attachment: please invite the sender.", "kim.customer@example.com")),
    ("no_forward.eml", Forward("Please invite mia@example.com and noah@example.com to this ticket.", None)),
]


@pytest.mark.parametrize("filename,expected", CASES, ids=[c[0] for c in CASES])
def test_split_forward(filename: str, expected: Forward) -> None:
    mail = parse_message((FORWARDS / filename).read_bytes())
    assert split_forward(mail) == expected


@pytest.mark.parametrize("filename,html_only,attached", [
    ("outlook_web_html.eml", True, 0),
    ("thunderbird_html.eml", True, 0),
    ("attached.eml", False, 1),
    ("gmail_inline.eml", False, 0),
])
def test_fixture_shapes(filename: str, html_only: bool, attached: int) -> None:
    """The fixtures exercise the paths they are meant to (HTML fallback, message/rfc822)."""
    mail = parse_message((FORWARDS / filename).read_bytes())
    assert (mail.text is None and mail.html is not None) == html_only
    assert len(mail.attached_messages) == attached


def test_forwarded_text_is_not_part_of_the_note() -> None:
    mail = parse_message((FORWARDS / "gmail_inline.eml").read_bytes())
    forward = split_forward(mail)
    assert "sam@example.net" not in forward.note
    assert "Bob Staff" not in forward.note  # the forwarder's signature


def test_forward_without_a_from_line_has_no_sender() -> None:
    mail = parse_message(
        b"From: Bob <bob@store.example.com>\r\nTo: i-1-2-x@support.example.com\r\nSubject: Fwd\r\n"
        b"Content-Type: text/plain\r\n\r\nSee below.\r\n\r\n-----Original Message-----\r\n\r\nHello.\r\n"
    )
    assert split_forward(mail) == Forward("See below.", None)


def test_sender_from_header_value_without_angle_brackets() -> None:
    mail = parse_message(
        b"From: Bob <bob@store.example.com>\r\nTo: i-1-2-x@support.example.com\r\nSubject: Fwd\r\n"
        b"Content-Type: text/plain\r\n\r\nInvite her.\r\n\r\n---------- Forwarded message ---------\r\n"
        b"From: Lena.Lang@Example.org\r\nDate: Mon, 4 Mar 2024 at 16:02\r\nSubject: Hi\r\n\r\nHello.\r\n"
    )
    assert split_forward(mail) == Forward("Invite her.", "lena.lang@example.org")


def test_topmost_forward_wins() -> None:
    mail = parse_message(
        b"From: Bob <bob@store.example.com>\r\nTo: i-1-2-x@support.example.com\r\nSubject: Fwd\r\n"
        b"Content-Type: text/plain\r\n\r\nNote.\r\n\r\n---------- Forwarded message ---------\r\n"
        b"From: First <first@example.org>\r\nDate: Mon, 4 Mar 2024\r\n\r\nText.\r\n\r\n"
        b"---------- Forwarded message ---------\r\nFrom: Second <second@example.org>\r\n"
        b"Date: Sun, 3 Mar 2024\r\n\r\nOlder.\r\n"
    )
    assert split_forward(mail).original_sender == "first@example.org"


def test_empty_message() -> None:
    mail = parse_message(b"From: Bob <bob@store.example.com>\r\nSubject: Fwd\r\nContent-Type: text/plain\r\n\r\n")
    assert split_forward(mail) == Forward("", None)
