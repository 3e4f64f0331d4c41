"""Every message of the public MIME corpora (mailgun/flanker, CPython's email tests, SpamScope's
mail-parser) is read without an unexpected exception and goes through every later
parsing step; plus the structure upstream pins for some of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from parsers.classify import classify
from parsers.forwards import split_forward
from parsers.mime import MalformedMessage, ParsedMail, parse_message
from parsers.quotes import extract_reply

MAIL = Path(__file__).resolve().parents[1] / "mail"
CORPORA = ("mailgun_flanker_messages", "cpython_email_testdata", "spamscope_mail_parser")

# Messages we refuse, and why: each reason must be what MalformedMessage says.
REFUSED = {
    "mailgun_flanker_messages:dkim/email.01": "empty",          # a zero-byte file
    "mailgun_flanker_messages:enclosed-endless": "MIME parts",  # a message that encloses itself, endlessly
}


def _cases() -> list[tuple[str, Path, dict[str, Any]]]:
    cases = []
    for corpus in CORPORA:
        for case in json.loads((MAIL / corpus / "cases.json").read_text(encoding="utf-8")):
            cases.append((f"{corpus}:{case['case_id']}", MAIL / corpus / case["file"], case.get("checks", {})))
    return cases


CASES = _cases()


def test_corpora_are_complete() -> None:
    assert len(CASES) == 69 + 48 + 23
    assert all(path.is_file() for _, path, _ in CASES)
    assert set(REFUSED) <= {case_id for case_id, _, _ in CASES}


def _run(raw: bytes) -> ParsedMail:
    mail = parse_message(raw)
    classify(mail, None)
    classify(mail, "")
    extract_reply(mail.text, mail.html)
    split_forward(mail)
    for attached in mail.attached_messages:
        extract_reply(attached.text, attached.html)
    return mail


@pytest.mark.parametrize("case_id,path,checks", CASES, ids=[c[0] for c in CASES])
def test_message_goes_through_every_step(case_id: str, path: Path, checks: dict[str, Any]) -> None:
    raw = path.read_bytes()
    try:
        mail = _run(raw)
    except MalformedMessage as exc:
        assert case_id in REFUSED, f"refused: {exc}"
        assert REFUSED[case_id] in str(exc)
        return
    assert case_id not in REFUSED, "now read: take it off REFUSED"
    for value in (mail.subject, mail.text or "", mail.html or "", *(v for _, v in mail.headers.items)):
        assert "\x00" not in value
    for attachment in mail.attachments:
        assert isinstance(attachment.filename, str) and attachment.filename and "\x00" not in attachment.filename


@pytest.mark.parametrize("crlf", [False, True])
def test_line_endings_do_not_matter(crlf: bool) -> None:
    """flanker's own tests feed its fixtures with CRLF line endings; mail arrives with both."""
    import re

    for case_id, path, _ in CASES:
        if case_id in REFUSED:
            continue
        raw = path.read_bytes()
        raw = re.sub(rb"\r\n|\r|\n", b"\r\n", raw) if crlf else raw.replace(b"\r\n", b"\n")
        _run(raw)


def _mail(case_id: str) -> ParsedMail:
    path = next(p for c, p, _ in CASES if c == case_id)
    return parse_message(path.read_bytes())


# The structure upstream pins, where it is something the gateway reads.

def test_raw_8bit_from_header_is_decoded() -> None:
    mail = _mail("mailgun_flanker_messages:from-encoding")
    assert mail.headers.get("From") == '"Ingo Lütkebohle" <ingo@blank.pages.de>'
    assert mail.from_addresses == ("ingo@blank.pages.de",)


@pytest.mark.parametrize("case_id", [
    "mailgun_flanker_messages:bounce/delayed-broken",
    "mailgun_flanker_messages:false-multipart",
    "mailgun_flanker_messages:enclosed-global",
    "cpython_email_testdata:msg_25",
    "cpython_email_testdata:msg_41",
    "spamscope_mail_parser:mail_malformed_2",
])
def test_what_the_strict_scanner_refuses_is_read_leniently(case_id: str) -> None:
    mail = _mail(case_id)
    assert mail.from_addresses or mail.headers.get("From") is None
    assert (mail.text or mail.html or mail.attachments or mail.attached_messages or mail.report_parts)


def test_multipart_without_boundaries_keeps_its_body() -> None:
    mail = _mail("mailgun_flanker_messages:missing-boundaries")
    assert mail.text and mail.text.strip()


def test_message_that_no_charset_guess_fits_is_read() -> None:
    """flanker raises "Failed to guess encoding" for these when it decodes the whole message."""
    for case_id in ("spamscope_mail_parser:mail_outlook_1", "mailgun_flanker_messages:spam/broken-ctype"):
        mail = _mail(case_id)
        assert mail.text or mail.html


def test_spamscope_mail_test_2() -> None:
    mail = _mail("spamscope_mail_parser:mail_test_2")
    assert mail.message_id == "4516257BC5774408ADC1263EEBBBB73F@ad.regione.vda.it"
    assert mail.from_addresses == ("meteo@regione.vda.it",)
    assert mail.to_addresses[0] == "echo@tu-berlin.de" and len(mail.to_addresses) == 2
    assert mail.subject == "Bollettino Meteorologico del 29/11/2015"
    assert len(mail.attachments) == 3


def test_encoded_attachment_names_decode_to_text() -> None:
    for case_id in ("spamscope_mail_parser:mail_test_11", "spamscope_mail_parser:mail_test_5",
                    "spamscope_mail_parser:mail_test_10"):
        names = [a.filename for a in _mail(case_id).attachments]
        assert names and all("=?" not in n for n in names), names
    assert "Move To Eight ZWEP6227F.pdf" in [a.filename for a in _mail("spamscope_mail_parser:mail_test_10").attachments]


def test_delivery_report_parts_are_kept() -> None:
    mail = _mail("mailgun_flanker_messages:bounce/mailbox-full")
    assert [t for t, _ in mail.report_parts] == ["message/delivery-status", "text/rfc822-headers"]
