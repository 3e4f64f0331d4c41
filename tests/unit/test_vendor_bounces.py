"""Today's vendor bounce formats (tests/mail/bounces, see its README): each is a bounce, names
the failed address, and gives the status the delivery state is decided by."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.outbox.deliverability import severity_of
from parsers.classify import Kind, classify
from parsers.mime import parse_message

BOUNCES = Path(__file__).resolve().parents[1] / "mail" / "bounces"


@pytest.mark.parametrize("sample, address, status, severity", [
    ("office365_ndr.eml", "jane@contoso.com", "5.1.10", "hard"),
    ("gmail_ndr.eml", "no.such.person.7@gmail.com", "5.1.1", "hard"),
    ("amazon_ses_ndr.eml", "mailbox.full@example.org", "5.2.2", "soft"),
    ("office365_forwarded_text_only.eml", "gone.away@outlook.com", "5.1.1", "hard"),
])
def test_vendor_bounces(sample, address, status, severity):
    result = classify(parse_message((BOUNCES / sample).read_bytes()), "")
    assert (result.kind, result.recipients, result.status) == (Kind.BOUNCE, (address,), status)
    assert severity_of(result.status).value == severity
