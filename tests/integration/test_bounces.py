"""Bounces stop delivery to an address that cannot receive (issue 5, "Bounces"): hard bounces at
once, soft bounces when they repeat; staff are told; the CLI shows and resumes the state."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import account_id, cli, delivery, dsn, outbox_status, wait_until

FLUFL = Path(__file__).resolve().parents[1] / "mail" / "flufl_bounce" / "data"


def bounce(gw, copy, status: str, action: str = "failed", message_id: str = "<dsn@mx.client.test>") -> None:
    """The recipient's mail system reports that `copy` failed, to the copy's VERP address."""
    result = gw.send(dsn(copy.mail_from, copy.to, status, action, message_id), "", copy.mail_from)
    assert result.code == 250, result


def post(ticket: int, by: str, body: str) -> None:
    result = cli("post", ticket, "--by", by, "--body", body)
    assert result.code == 0, result.err


def test_a_hard_bounce_stops_delivery_and_tells_the_staff_once(gw, sink, people, ticket):
    bounce(gw, sink.wait_for(1, to=people.owner)[0], "5.1.1")
    state = delivery(people.owner)
    assert state["state"] == "stopped" and "hard bounce (5.1.1)" in state["reason"]
    assert [b["severity"] for b in state["bounces"]] == ["hard"]
    told = sink.wait_for(1, to=people.staff, timeout=15)
    stopped = [m for m in told if "stopped" in m.header("Subject")]
    assert len(stopped) == 1 and people.owner in stopped[0].text and f"#{ticket}" in stopped[0].header("Subject")
    assert stopped[0].header("Reply-To") is None  # a reply to the notice must not post to the ticket

    post(ticket, people.staff, "Are you there?")
    wait_until(lambda: outbox_status(gw, people.owner) == ["bounced", "suppressed"], what="the copy suppressed")
    assert len(sink.to(people.owner)) == 1  # only the copy that bounced ever went out
    listed = {a["email"]: a["delivery"] for a in cli("account", "list", "--json").json()}
    assert listed[people.owner] == "stopped" and listed[people.delegate] == "ok"

    bounce(gw, sink.to(people.owner)[0], "5.1.1", message_id="<dsn-again@mx.client.test>")
    assert len([m for m in sink.to(people.staff) if "stopped" in m.header("Subject")]) == 1


def test_soft_bounces_of_three_copies_stop_delivery_and_a_repeated_report_counts_once(gw, sink, people, ticket):
    post(ticket, people.staff, "Second")
    post(ticket, people.staff, "Third")
    copies = sink.wait_for(3, to=people.owner)
    bounce(gw, copies[0], "4.2.2", message_id="<soft-1@mx.client.test>")
    bounce(gw, copies[0], "4.2.2", message_id="<soft-1-again@mx.client.test>")
    bounce(gw, copies[1], "5.2.2", message_id="<soft-2@mx.client.test>")
    state = delivery(people.owner)
    assert (state["state"], state["soft_bounces"]) == ("ok", 2)
    assert {a["email"]: a["delivery"] for a in cli("account", "list", "--json").json()}[people.owner] == \
        "2 soft bounces"

    bounce(gw, copies[2], "5.7.1", message_id="<soft-3@mx.client.test>")
    state = delivery(people.owner)
    assert state["state"] == "stopped" and state["reason"].startswith("3 soft bounces within 7 days")


def test_delay_warnings_stop_nothing(gw, sink, people, ticket):
    copy = sink.wait_for(1, to=people.owner)[0]
    for n in range(4):
        bounce(gw, copy, "4.4.7", action="delayed", message_id=f"<delay-{n}@mx.client.test>")
    assert delivery(people.owner) == {"state": "ok", "stopped_at": None, "reason": None, "soft_bounces": 0,
                                      "bounces": []}
    assert [r["outcome"] for r in cli("inbound", "list", "--json").json()[:4]] == ["bounce"] * 4


def test_an_unsigned_report_naming_someone_stops_nothing(gw, sink, people, ticket):
    support = gw.gateway.addresses.support_address
    result = gw.send(dsn(support, people.owner, "5.1.1"), "", support)
    assert result.code == 250
    assert cli("inbound", "list", "--json").json()[0]["outcome"] == "bounce"
    assert delivery(people.owner)["state"] == "ok"


def test_staff_resume_delivery_and_old_bounces_no_longer_count(gw, sink, people, ticket):
    bounce(gw, sink.wait_for(1, to=people.owner)[0], "5.1.1")
    assert delivery(people.owner)["state"] == "stopped"

    refused = cli("account", "resume", people.owner, "--by", people.delegate)
    assert refused.code == 1 and "only staff can resume" in refused.err
    assert cli("account", "resume", people.owner, "--by", people.staff).code == 0
    assert delivery(people.owner)["state"] == "ok"
    again = cli("account", "resume", people.owner, "--by", people.staff)
    assert again.code == 1 and "is not stopped" in again.err

    post(ticket, people.staff, "Welcome back")
    assert "Welcome back" in sink.wait_for(2, to=people.owner)[1].text


def test_the_account_page_shows_the_bounces_in_plain_text(gw, sink, people, ticket):
    bounce(gw, sink.wait_for(1, to=people.owner)[0], "5.1.1")
    shown = cli("account", "show", people.owner).out
    assert "delivery: stopped" in shown and "hard  5.1.1" in shown and f"#{ticket}" in shown


# Real reports from the flufl.bounce corpus, each returned to the VERP address of a real copy:
# (sample, what it says, severity the gateway reads from it)
REAL_REPORTS = [
    ("postfix_01.txt", "Postfix", "hard"),     # 5.1.1
    ("qmail_01.txt", "qmail", "soft"),         # gives no status: a permanent error of unknown cause
    ("exim_01.txt", "Exim", "hard"),
    ("microsoft_01.txt", "Exchange", "hard"),  # "The recipient name is not recognized"
    ("simple_10.txt", "Gmail", "soft"),
    ("yahoo_01.txt", "Yahoo", "soft"),         # 4.4.1: no connection to the recipient's server
    ("sendmail_01.txt", "Sendmail", "soft"),   # 554 too many hops: a loop, not a bad address
    ("dsn_01.txt", "RFC 3464", "hard"),        # 5.0.0
]


@pytest.mark.parametrize("sample, source, severity", REAL_REPORTS, ids=[r[1] for r in REAL_REPORTS])
def test_real_bounce_formats_are_tied_to_the_copy_and_counted(gw, sink, people, ticket, sample, source, severity):
    copy = sink.wait_for(1, to=people.owner)[0]
    result = gw.send((FLUFL / sample).read_bytes(), "", copy.mail_from)
    assert result.code == 250
    record = cli("inbound", "list", "--json").json()[0]
    assert record["outcome"] == "bounce" and record["ticket"] == ticket and people.owner in record["reason"]
    state = delivery(people.owner)
    assert [b["severity"] for b in state["bounces"]] == [severity]
    assert state["state"] == ("stopped" if severity == "hard" else "ok")


# Issue 15: reports recognised by what they are. Sent with a person's address as From and as
# envelope sender (tests/mail/reports), to that person's reply address or the support address.
REPORTS = Path(__file__).resolve().parents[1] / "mail" / "reports"


@pytest.mark.parametrize("sample, outcome", [("qmail.eml", "bounce"), ("notes.eml", "bounce"),
                                             ("exchange2003_oof.eml", "auto_reply")])
def test_a_report_from_a_persons_address_is_recorded_never_posted(gw, sink, people, ticket, sample, outcome):
    address = gw.gateway.addresses.reply_address(ticket, account_id(gw, people.owner))
    result = gw.send((REPORTS / sample).read_bytes(), people.owner, address)
    assert result.code == 250, result
    assert cli("inbound", "list", "--json").json()[0]["outcome"] == outcome
    assert [p["body"] for p in cli("ticket", "show", ticket, "--json").json()["posts"]] == [
        "How did you like the special blend?"]


@pytest.mark.parametrize("envelope", ["fbl@isp.example", ""], ids=["report-sender", "null-sender"])
def test_a_feedback_report_is_accepted_whatever_its_envelope(gw, people, envelope):
    support = gw.gateway.addresses.support_address
    result = gw.send((REPORTS / "arf_mislabelled.eml").read_bytes(), envelope, support)
    assert result.code == 250, result
    record = cli("inbound", "list", "--json").json()[0]
    assert record["outcome"] == "bounce" and "ARF feedback report" in record["reason"]


def test_a_bounce_naming_an_international_domain_either_way_stops_that_one_address(gw, sink, people):
    assert cli("account", "add", "zoe@bücher.test", "--name", "Zoe", "--role", "client").code == 0
    number = int(cli("ticket", "create", "--owner", "zoe@bücher.test", "--by", people.staff, "--subject", "IDN",
                     "--body", "Hello").out)
    copy = sink.wait_for(1, to="zoe@xn--bcher-kva.test")[0]
    result = gw.send(dsn(copy.mail_from, "Zoe@Bücher.test", "5.1.1"), "", copy.mail_from)
    assert result.code == 250, result
    state = delivery("zoe@xn--bcher-kva.test")
    assert state["state"] == "stopped" and "hard bounce (5.1.1)" in state["reason"]
    post(number, people.staff, "Still there?")
    wait_until(lambda: outbox_status(gw, "zoe@xn--bcher-kva.test") == ["bounced", "suppressed"],
               what="the next copy suppressed")
