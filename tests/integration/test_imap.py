"""SPEC "Inbound over IMAP": the gateway reads a real Dovecot mailbox (tests/dovecot.py).

Every test runs on SQLite and PostgreSQL. Messages are APPENDed with imapclient, as a mail
provider's delivery would put them in the mailbox; the gateway's poller does the rest.
"""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from dovecot import health, mailbox_state, outcomes, post_count, reply, wait_idle
from support import cli, inbound_count, make_mail, reply_address, wait_until
from storage.models import Account, InboundMessage, InboundOutcome, Outcome, Post, Role, Ticket


@pytest.fixture
def gw(start_gateway):
    return start_gateway()


# --- what a message does --------------------------------------------------------------------

def test_a_reply_posts_and_is_moved_only_after(gw, dovecot, people, ticket, sink):
    address = reply_address(gw, ticket, people.owner)
    dovecot.append(reply(people.owner, address, "The special blend was lovely, thanks!",
                         headers={"Delivered-To": address, "Return-Path": f"<{people.owner}>"}))
    wait_until(lambda: post_count(gw, ticket) == 2, what="the reply to be posted")
    shown = cli("ticket", "show", ticket, "--json").json()
    assert shown["posts"][-1]["body"].startswith("The special blend was lovely")
    assert shown["posts"][-1]["source"] == "email" and shown["status"] == "client_replied"
    wait_until(lambda: dovecot.uids("Processed") and not dovecot.uids("INBOX"), what="the move")
    inbound = cli("inbound", "list", "--json").json()
    assert [(i["channel"], i["outcome"]) for i in inbound] == [("imap", "posted")]
    # the post goes out to the staff member like any other
    assert "special blend was lovely" in sink.wait_for(1, to=people.staff)[-1].text
    state = mailbox_state(gw)
    assert state["processed"] == 1 and state["idle"] is True and state["last_error"] is None


def test_a_refusal_is_answered_with_a_notice_rate_limited_per_address(gw, dovecot, people, ticket, sink):
    address = reply_address(gw, ticket, people.owner)
    # carol writes to olivia's reply address: refused (sender mismatch), and told so by mail
    dovecot.append(*(reply(people.other, address, f"Me too, take {i}!") for i in range(5)))
    dovecot.append(make_mail("stranger@elsewhere.test", "support@gw.test", "Hello?", "Do you sell tea?"))
    notice = sink.wait_for(1, to="stranger@elsewhere.test")[0]
    assert notice.header("Subject").startswith("Not delivered")
    assert "only from the address of a store customer" in notice.text
    assert notice.header("Auto-Submitted") == "auto-generated"
    wait_until(lambda: len(outcomes(gw)) == 6, what="every message decided")
    assert outcomes(gw) == [Outcome.REFUSED] * 6
    notices = sink.wait_for(3, to=people.other)
    assert all("only takes mail from the person it was sent to" in n.text for n in notices)
    time.sleep(1.5)  # the courier runs every second: anything more would have arrived
    assert len(sink.to(people.other)) == 3  # GATEWAY_IMAP_NOTICE_LIMIT, default 3 per hour
    assert post_count(gw, ticket) == 1


def test_an_auto_reply_does_nothing(gw, dovecot, people, ticket, sink):
    address = reply_address(gw, ticket, people.owner)
    dovecot.append(
        reply(people.owner, address, "I am out of the office until Monday.",
              headers={"Auto-Submitted": "auto-replied", "Return-Path": "<>"}),
        reply(people.owner, address, "Back now: the blend was great."),
    )
    wait_until(lambda: post_count(gw, ticket) == 2, what="the real reply")
    sink.wait_for(1, to=people.staff)
    assert outcomes(gw) == [Outcome.AUTO_REPLY, Outcome.POSTED]
    # no notice, nothing: the owner only ever got the ticket's opening message
    assert [m.header("Subject") for m in sink.to(people.owner)] == ["[#1] Special blend survey"]
    assert "out of the office" not in json.dumps(cli("ticket", "show", ticket, "--json").json())


# --- reliability ---------------------------------------------------------------------------

def test_a_crash_between_commit_and_move_posts_once(gw, dovecot, people, ticket, monkeypatch):
    from gateway.channels.imap import ConnectionLost, FolderReader

    real = FolderReader._mark_processed
    calls = []

    def crash_once(self, client, uids):
        calls.append(uids)
        if len(calls) == 1:
            raise ConnectionLost("simulated crash after the commit, before the move")
        return real(self, client, uids)

    monkeypatch.setattr(FolderReader, "_mark_processed", crash_once)
    address = reply_address(gw, ticket, people.owner)
    dovecot.append(reply(people.owner, address, "Posted exactly once, please."))
    wait_until(lambda: not dovecot.uids("INBOX") and dovecot.uids("Processed"), timeout=20,
               what="the message fetched again and moved")
    assert outcomes(gw) == [Outcome.POSTED, Outcome.DUPLICATE]
    assert post_count(gw, ticket) == 2


def test_server_restart_reconnects(gw, dovecot, people, ticket, caplog):
    address = reply_address(gw, ticket, people.owner)
    dovecot.append(reply(people.owner, address, "Before the restart."))
    wait_until(lambda: post_count(gw, ticket) == 2, what="the first reply")
    dovecot.restart()
    dovecot.append(reply(people.owner, address, "After the restart."))
    wait_until(lambda: post_count(gw, ticket) == 3, timeout=30, what="the reply after the restart")
    wait_idle(gw)
    assert "connection lost" in caplog.text and "reconnecting in" in caplog.text
    assert mailbox_state(gw)["last_error"] is None


@pytest.mark.parametrize("security", ["imaps", "starttls"])
def test_tls_to_the_server(start_gateway, dovecot, certificate, people, ticket, security):
    if security == "imaps":
        gw = start_gateway(imap_ssl="true", imap_port=dovecot.tls_port, imap_ca_file=certificate[0])
    else:
        gw = start_gateway(imap_starttls="true", imap_ca_file=certificate[0])
    address = reply_address(gw, ticket, people.owner)
    dovecot.append(reply(people.owner, address, f"Over {security}."))
    wait_until(lambda: post_count(gw, ticket) == 2, what=f"the reply read over {security}")
    assert mailbox_state(gw)["last_error"] is None


def test_an_untrusted_certificate_is_refused(start_gateway, dovecot, caplog):
    gw = start_gateway(imap_ssl="true", imap_port=dovecot.tls_port)  # the system's CAs only
    wait_until(lambda: mailbox_state(gw)["state"] == "reconnecting", what="the refused certificate")
    assert "CERTIFICATE_VERIFY_FAILED" in mailbox_state(gw)["last_error"]


def test_several_folders(start_gateway, dovecot, people, ticket):
    with dovecot.client() as client:
        client.create_folder("Support")
        client.logout()
    gw = start_gateway(imap_folder="INBOX, Support")
    address = reply_address(gw, ticket, people.owner)
    dovecot.append(reply(people.owner, address, "Into the INBOX."))
    dovecot.append(reply(people.owner, address, "Into the Support folder."), folder="Support")
    wait_until(lambda: post_count(gw, ticket) == 3, what="both replies")
    assert [m["mailbox"].rsplit("/", 1)[1] for m in health(gw)["mailboxes"]] == ["INBOX", "Support"]
    wait_until(lambda: len(dovecot.uids("Processed")) == 2, what="both moved")


def test_login_failure_is_retried_and_shown_in_health(start_gateway, caplog):
    gw = start_gateway(imap_password="wrong")
    wait_until(lambda: mailbox_state(gw)["state"] == "reconnecting", what="the failed login")
    state = mailbox_state(gw)
    assert "login failed" in state["last_error"]
    assert health(gw)["status"] == "ok"  # SMTP intake and delivery still work
    assert "login failed" in caplog.text


def test_uidvalidity_reset_rescans_and_posts_nothing_twice(gw, dovecot, people, ticket, caplog):
    address = reply_address(gw, ticket, people.owner)
    dovecot.append(*(reply(people.owner, address, f"Reply number {i}.") for i in range(3)))
    wait_until(lambda: len(dovecot.uids("Processed")) == 3, what="three replies processed")
    before = dovecot.uidvalidity()
    # a restore: the processed mail comes back into the INBOX, which Dovecot numbers afresh
    dovecot.reset_uidvalidity(restore_from="Processed")
    assert dovecot.uidvalidity() != before and len(dovecot.uids("INBOX")) == 3
    dovecot.append(reply(people.owner, address, "A new one after the restore."))
    wait_until(lambda: len(outcomes(gw)) == 7 and not dovecot.uids("INBOX"), timeout=30,
               what="the rescan")
    assert sorted(outcomes(gw)) == sorted([Outcome.POSTED] * 4 + [Outcome.DUPLICATE] * 3)
    assert post_count(gw, ticket) == 1 + 4
    assert "UIDVALIDITY changed" in caplog.text


def test_one_poller_per_mailbox_and_takeover_when_it_dies(start_gateway, dovecot, people, ticket, monkeypatch):
    from gateway.channels.imap import Lease

    first = start_gateway()
    wait_idle(first)
    second = start_gateway()
    wait_until(lambda: mailbox_state(second)["state"] == "standby", what="the second poller to stand by")
    address = reply_address(first, ticket, people.owner)
    dovecot.append(*(reply(people.owner, address, f"Shared mailbox, reply {i}.") for i in range(10)))
    wait_until(lambda: post_count(first, ticket) == 11, what="ten posts")
    assert inbound_count(first) == 10  # taken in once each: the other process never fetched them
    assert mailbox_state(first)["processed"] == 10 and mailbox_state(second)["processed"] == 0
    # the first process dies without giving the lease back: the second takes over when it runs out
    monkeypatch.setattr(Lease, "release", lambda self: None)
    first.stop()
    dovecot.append(reply(people.owner, address, "After the takeover."))
    wait_until(lambda: post_count(second, ticket) == 12, timeout=30, what="the takeover")
    assert mailbox_state(second)["processed"] == 1


def test_a_burst_of_500_messages_each_with_exactly_one_outcome(gw, dovecot, people):
    """A Monday morning: 500 clients write to the support address at once (one message each, so
    the loop breaker, which holds bursts from one sender, stays out of it)."""
    count = 500
    clients = [f"client{i}@client.test" for i in range(count)]
    with gw.gateway.sessions() as session, session.begin():
        session.add_all(Account(email=c, name=f"Client {i}", role=Role.CLIENT) for i, c in enumerate(clients))
    messages = [make_mail(c, "support@gw.test", f"Question {i}", f"Question number {i}?")
                for i, c in enumerate(clients)]

    def tickets() -> int:
        with gw.gateway.sessions() as session:
            return session.scalar(select(func.count()).select_from(Ticket))

    dovecot.append(*messages)
    wait_until(lambda: tickets() == count, timeout=100, what=f"{count} tickets")
    wait_until(lambda: not dovecot.uids("INBOX"), what="every message moved")
    assert len(dovecot.uids("Processed")) == count
    with gw.gateway.sessions() as session:
        per_message = session.execute(select(InboundMessage.message_id, func.count(InboundOutcome.id))
                                      .join(InboundOutcome).group_by(InboundMessage.id)).all()
        assert len(per_message) == count and all(n == 1 for _, n in per_message)
        assert len({message_id for message_id, _ in per_message}) == count  # nothing taken in twice
        assert set(session.scalars(select(InboundOutcome.outcome))) == {Outcome.TICKET_CREATED}
        subjects = session.scalars(select(Ticket.subject)).all()
        assert sorted(subjects) == sorted(f"Question {i}" for i in range(count))  # nothing lost
        posts_per_ticket = session.execute(select(Post.ticket_id, func.count()).group_by(Post.ticket_id)).all()
        assert len(posts_per_ticket) == count and all(n == 1 for _, n in posts_per_ticket)


def test_with_idle_each_reply_is_posted_long_before_the_next_poll(start_gateway, dovecot, people, ticket):
    """How long it takes is measured by bench/imap_delay.py."""
    gw = start_gateway(imap_poll_interval="300s")  # no poll within the test: IDLE alone brings the mail in
    address = reply_address(gw, ticket, people.owner)
    for i in range(3):
        wait_idle(gw)
        dovecot.append(reply(people.owner, address, f"Reply {i} while the gateway idles."))
        wait_until(lambda: post_count(gw, ticket) == 2 + i, timeout=20, what=f"reply {i} posted")
    assert mailbox_state(gw)["idle"] is True


# --- the envelope an IMAP message gets ------------------------------------------------------

def test_arrival_from_headers():
    from gateway.channels.imap import arrival_for
    from parsers.addresses import AddressBook

    book = AddressBook(b"k" * 32, "gw.test", "support@gw.test")
    reply_ = book.reply_address(1, 2)
    raw = (f"Return-Path: <>\r\nDelivered-To: support@gw.test\r\nTo: Store <{reply_.upper()}>\r\n"
           f"Cc: someone@else.test\r\nFrom: a@b.test\r\nSubject: x\r\n\r\nbody\r\n").encode()
    arrival = arrival_for(raw, book)
    assert [r.address for r in arrival.recipients] == [reply_] and arrival.sender == ""
    assert arrival.channel == "imap" and not arrival.answers_sender
    plain = arrival_for(b"From: a@b.test\r\nTo: someone@else.test\r\n\r\nhi\r\n", book)
    assert [r.address for r in plain.recipients] == ["support@gw.test"] and plain.sender is None
    assert arrival_for(b"Return-Path: <x@y.test>\r\nTo: support@gw.test\r\n\r\n", book).sender == "x@y.test"
