"""The SMTP scenarios of the core story (test_rules.py, test_email_interfaces.py), with the mail taken
from a real Dovecot mailbox instead of an SMTP session. Where SMTP refuses with a 550, IMAP intake
answers with a notice email."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dovecot import wait_decided
from storage.models import OutboxMessage, RefusalNotice
from support import (accept_link, cli, delegates, delivery, dsn, forward, inbound, invite_address, invite_and_accept,
                     make_mail, outbox_status, posts, reply_address, reply_to, show)


@pytest.fixture
def gw(start_gateway):
    return start_gateway()


def notices_queued(gw) -> int:
    """Refusal notices queued by IMAP intake (each is recorded, to rate-limit them)."""
    with gw.gateway.sessions() as session:
        return session.scalar(select(func.count()).select_from(RefusalNotice))


def test_staff_forward_to_the_invite_address_invites_and_is_confirmed(gw, dovecot, sink, people, ticket):
    address = invite_address(gw, people, ticket)
    note = (f"Please add {people.delegate} and ghost@nowhere.test, thanks; cc {people.staff} {address}\n\n"
            "-- \nSam Staff\nsam.private@store.test")
    dovecot.deliver(forward(people.staff, address, note), people.staff, address)
    wait_decided(gw, 1)
    assert [(r["channel"], r["outcome"]) for r in inbound()] == [("imap", "invited")]
    assert delegates(ticket) == {people.delegate: "invited"}  # not the staff's own, signature, or forwarded ones
    accept_link(sink.wait_for(1, to=people.delegate)[0])
    confirmation = sink.wait_for(1, to=people.staff)[0]
    assert "Delegates invited: 1, refused: 1" in confirmation.header("Subject")
    assert people.delegate in confirmation.text
    assert "ghost@nowhere.test: ghost@nowhere.test has no store account" in confirmation.text
    assert notices_queued(gw) == 0  # the confirmation says it all: no refusal notice besides


def test_a_bounce_in_the_mailbox_is_tied_to_its_copy_never_posted_never_answered(gw, dovecot, sink, people, ticket):
    copy = sink.wait_for(1, to=people.owner)[0]
    assert copy.mail_from.startswith("b-")
    dovecot.deliver(dsn(copy.mail_from, copy.to, "5.1.1"), "", copy.mail_from)
    wait_decided(gw, 1)
    record = inbound()[0]
    assert record["outcome"] == "bounce" and record["ticket"] == ticket and people.owner in record["reason"]
    assert outbox_status(gw, people.owner) == ["bounced"]  # that very copy, named by its VERP address
    assert delivery(people.owner)["state"] == "stopped"
    assert len(posts(ticket)) == 1
    assert notices_queued(gw) == 0  # it would have been queued with the outcome
    with gw.gateway.sessions() as session:
        assert session.scalars(select(OutboxMessage).where(OutboxMessage.recipient.ilike("%@mx.client.test"))).all() == []


def test_a_client_mail_to_the_support_address_opens_a_ticket(gw, dovecot, sink, people):
    raw = make_mail(f"Olivia <{people.owner}>", "support@gw.test", "Re: Where is my order?",
                    "Order 1234 has not arrived.\n\n-- \nOlivia\nSent from my phone")
    dovecot.deliver(raw, people.owner, "support@gw.test")
    ack = sink.wait_for(1, to=people.owner)[0]
    tickets = cli("ticket", "list", "--json").json()
    assert [(t["subject"], t["owner"], t["status"]) for t in tickets] == [("Where is my order?", people.owner, "open")]
    assert show(tickets[0]["number"])["posts"][0]["body"] == "Order 1234 has not arrived."
    assert ack.header("Auto-Submitted") == "auto-generated"
    assert gw.gateway.addresses.route(ack.header("Reply-To")).ticket == tickets[0]["number"]
    assert [(r["channel"], r["outcome"]) for r in inbound()] == [("imap", "ticket_created")]


def test_a_reply_before_accepting_is_refused_with_a_notice_pointing_to_the_invitation(gw, dovecot, sink, people,
                                                                                      ticket):
    assert cli("delegate", "invite", ticket, people.delegate, "--by", people.staff).code == 0
    invitation = sink.wait_for(1, to=people.delegate)[0]
    raw, address = reply_to(invitation, people.delegate, "I love it")  # replying to the invitation itself
    dovecot.deliver(raw, people.delegate, address)
    notice = sink.wait_for(2, to=people.delegate)[1]
    assert notice.header("Subject").startswith("Not delivered")
    assert "not accepted your invitation" in notice.text and "accept link" in notice.text
    assert "/accept/" not in notice.raw.decode()  # the link itself only ever goes in the invitation
    assert accept_link(invitation)
    assert inbound()[0]["outcome"] == "refused"
    assert [t["number"] for t in cli("ticket", "list", "--json").json()] == [ticket]  # and no new ticket
    assert [p["body"] for p in show(ticket)["posts"]] == ["How did you like the special blend?"]


def test_a_revoked_delegates_reply_is_refused_with_a_notice(gw, dovecot, sink, people, ticket):
    invite_and_accept(sink, people, ticket)
    thread = sink.wait_for(2, to=people.delegate)[1]
    assert cli("delegate", "revoke", ticket, people.delegate, "--by", people.staff).code == 0
    raw, address = reply_to(thread, people.delegate, "Still here?")
    dovecot.deliver(raw, people.delegate, address)
    notice = sink.wait_for(3, to=people.delegate)[2]
    assert notice.header("Subject").startswith("Not delivered") and "revoked" in notice.text
    assert inbound()[0]["outcome"] == "refused"
    assert [p["body"] for p in show(ticket)["posts"]] == ["How did you like the special blend?"]
    assert delegates(ticket, "--all") == {people.delegate: "revoked"}


def test_the_same_message_in_the_mailbox_twice_posts_once(gw, dovecot, people, ticket):
    address = reply_address(gw, ticket, people.owner)
    raw = make_mail(people.owner, address, "Re: survey", "Only once please", message_id="<same@client.test>")
    dovecot.deliver(raw, people.owner, address)
    dovecot.deliver(raw, people.owner, address)
    wait_decided(gw, 2)
    assert [p["body"] for p in posts(ticket)].count("Only once please") == 1
    assert [r["outcome"] for r in inbound()[:2]] == ["duplicate", "posted"]
