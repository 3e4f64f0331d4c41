"""Automatic mail recognised by what it is, not by who sent it (issue 15, class 8).

tests/mail/reports holds delivery reports in each mail system's own wording, an out-of-office
reply of Lotus Notes and of Exchange 2003, and a feedback report whose machine-readable part is
labelled text/plain, all sent from a person's address (as some servers send them, or as they
arrive over IMAP, where there is no envelope). Next to them: people who quote, forward or talk
about such reports, whose mail stays a post. See tests/mail/reports/README.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.classify import Kind, classify
from parsers.mime import parse_message

REPORTS = Path(__file__).resolve().parents[1] / "mail" / "reports"
PERSON = "olivia@client.test"

DELIVERY_REPORTS = ["qmail", "exchange2003", "exchange2010", "notes", "sendmail", "yahoo", "gmail_2012",
                    "gmail", "postfix", "exim", "courier", "iis_smtpsvc", "groupwise"]


def _classify(name: str, envelope: str | None):
    return classify(parse_message((REPORTS / f"{name}.eml").read_bytes()), envelope)


@pytest.mark.parametrize("envelope", [PERSON, None], ids=["smtp-from-the-person", "imap-no-envelope"])
@pytest.mark.parametrize("name", DELIVERY_REPORTS)
def test_a_delivery_report_from_a_persons_address_is_a_bounce(name, envelope):
    result = _classify(name, envelope)
    assert result.kind is Kind.BOUNCE, result
    assert result.recipients == ("jan@old.example",), result


def test_a_report_names_the_wording_that_gave_it_away():
    assert _classify("qmail", PERSON).reason.startswith("qmail format; qmail wording")
    assert _classify("notes", PERSON).reason.endswith("Notes wording")


@pytest.mark.parametrize("name", ["notes_absence", "exchange2003_oof"])
@pytest.mark.parametrize("envelope", [PERSON, None], ids=["smtp", "imap"])
def test_an_out_of_office_reply_from_a_persons_address_is_automatic(name, envelope):
    assert _classify(name, envelope).kind is Kind.AUTO_REPLY


@pytest.mark.parametrize("envelope", ["fbl@isp.example", None], ids=["smtp", "imap"])
def test_a_feedback_report_with_a_mislabelled_part_is_a_feedback_report(envelope):
    result = _classify("arf_mislabelled", envelope)
    assert (result.kind, result.recipients) == (Kind.FEEDBACK, ("complainer@isp.example",))


@pytest.mark.parametrize("name", ["person_quotes_report", "person_forwards_report_inline",
                                  "person_talks_about_reports"])
@pytest.mark.parametrize("envelope", [PERSON, None], ids=["smtp", "imap"])
def test_people_who_quote_forward_or_talk_about_reports_still_post(name, envelope):
    result = _classify(name, envelope)
    assert result.kind is Kind.POST, result


def test_a_persons_subject_about_someone_out_of_the_office_stays_a_post():
    raw = (REPORTS / "notes_absence.eml").read_bytes().replace(
        b"Subject: Olivia Owner/Sales/Client is out of the office.",
        b"Subject: Re: [#12] Jan is out of the office.")
    raw = raw.replace(b"I will be out of the office", b"He will be out of the office")
    assert classify(parse_message(raw), PERSON).kind is Kind.POST


def _plain(subject: str, body: str) -> bytes:
    return (f"From: Olivia Owner <{PERSON}>\r\nTo: support@gw.test\r\nSubject: {subject}\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{body}").encode()


def test_a_report_subject_with_failure_wording_is_a_bounce_whoever_sent_it():
    """A gateway of its own make: no known opening, but a report's subject and a report's words."""
    body = "Your message could not be delivered to the following recipient:\r\n\r\n  jan@old.example\r\n"
    result = classify(parse_message(_plain("Undeliverable mail: [#12] Special blend survey", body)), PERSON)
    assert (result.kind, result.recipients) == (Kind.BOUNCE, ("jan@old.example",)), result


@pytest.mark.parametrize("subject", ["Re: Undeliverable mail: [#12] Special blend survey",
                                     "Fwd: Returned mail: see transcript for details"])
def test_a_person_replying_to_or_forwarding_a_report_subject_still_posts(subject):
    body = "My mail to Jan could not be delivered, can you check his address?\r\n"
    assert classify(parse_message(_plain(subject, body)), PERSON).kind is Kind.POST


@pytest.mark.parametrize("banner", [
    "This is an automatically generated message.",
    "****** Message from Example Mail Gateway ******",
    "Dies ist eine automatisch generierte Nachricht.",
    "Ceci est un message automatique.",
])
def test_a_machine_banner_with_failure_wording_is_a_bounce(banner):
    body = f"{banner}\r\n\r\nThe following message could not be delivered to jan@old.example.\r\n"
    result = classify(parse_message(_plain("Re: [#12] Special blend survey", body)), PERSON)
    assert (result.kind, result.recipients) == (Kind.BOUNCE, ("jan@old.example",)), result


def test_a_machine_banner_without_a_failure_is_no_bounce():
    body = "This is an automatically generated message.\r\n\r\nYour order 4471 has shipped.\r\n"
    assert classify(parse_message(_plain("Your order 4471", body)), PERSON).kind is not Kind.BOUNCE
