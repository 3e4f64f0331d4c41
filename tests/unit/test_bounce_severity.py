"""What a bounce says about the address: its status (parsers.classify) and the severity the
gateway reads from it (gateway.deliverability)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.outbox.deliverability import severity_of
from parsers.classify import Kind, classify
from parsers.mime import parse_message

FLUFL = Path(__file__).resolve().parents[1] / "mail" / "flufl_bounce" / "data"


@pytest.mark.parametrize("sample, status", [
    ("postfix_01.txt", "5.1.1"),      # Postfix: "said: 550 5.1.1 ..."
    ("yahoo_01.txt", "4.4.1"),        # qmail style "(#4.4.1)"
    ("sendmail_01.txt", "554"),       # Sendmail transcript: the SMTP code only
    ("microsoft_01.txt", "5.1.1"),    # Exchange: "The recipient name is not recognized", no code
    ("dsn_01.txt", "5.0.0"),          # RFC 3464 Status field
    ("qmail_01.txt", None),           # "a permanent error", and nothing more
])
def test_the_status_is_read_from_real_reports(sample, status):
    result = classify(parse_message((FLUFL / sample).read_bytes()), "")
    assert (result.kind, result.status) == (Kind.BOUNCE, status)


def _text_bounce(body: str):
    raw = ("From: MAILER-DAEMON@mx.client.test\r\nTo: b-1-x@gw.test\r\nSubject: Undelivered Mail\r\n"
           f"Message-ID: <b@mx.client.test>\r\n\r\nThis is the mail system at host mx.client.test.\r\n\r\n{body}\r\n")
    return classify(parse_message(raw.encode()), "")


def test_numbers_that_are_not_statuses_are_not_read_as_one():
    result = _text_bounce("<olivia@client.test>: host 10.5.1.1 (Exim 4.96) timed out at 550 Market Street")
    assert result.kind == Kind.BOUNCE and result.status is None


def test_a_status_in_the_returned_copy_is_not_the_failure():
    result = _text_bounce("<olivia@client.test>: connection refused\r\n\r\n"
                          "------ This is a copy of the message, including all the headers. ------\r\n"
                          "Subject: Re: error 5.1.1 in your shop")
    assert result.status is None


@pytest.mark.parametrize("status, severity", [
    ("5.1.1", "hard"), ("5.1.10", "hard"), ("5.2.1", "hard"), ("5.4.4", "hard"), ("5.0.0", "hard"),
    ("550", "hard"), ("553", "hard"),
    ("5.2.2", "soft"),   # mailbox full
    ("5.7.1", "soft"),   # policy: says something about our message or server, not the address
    ("554", "soft"), ("552", "soft"), ("4.2.2", "soft"), ("4.4.7", "soft"), (None, "soft"),
])
def test_only_a_bad_address_is_a_hard_bounce(status, severity):
    assert severity_of(status).value == severity
