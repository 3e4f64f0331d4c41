"""IMAP without IDLE: the folder is polled by a scheduler job every GATEWAY_IMAP_POLL_INTERVAL, on a
thread of its own, so that SMTP intake never waits for a mailbox (tests/dovecot.py; both databases)."""

from __future__ import annotations

import logging
import threading

from dovecot import USER, imap_settings, mailbox_state, outcomes, post_count, reply
from support import make_mail, reply_address, wait_until
from storage.models import Outcome


def idle_workers() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("imap idle")]


def test_a_server_without_idle_is_polled_by_the_scheduler_job(gateway_with, dovecot_without_idle, people, ticket,
                                                              caplog):
    caplog.set_level(logging.INFO, logger="gateway.channels.imap")
    server = dovecot_without_idle
    with server.client() as client:
        assert not client.has_capability("IDLE")
        client.logout()
    gw = gateway_with(**imap_settings(server))  # IDLE wanted (the default), but not offered
    address = reply_address(gw, ticket, people.owner)
    wait_until(lambda: mailbox_state(gw)["state"] == "polling", what="the first poll")
    assert mailbox_state(gw)["idle"] is False
    assert f"{USER}@127.0.0.1:{server.port}/INBOX: polling every 1s (no IDLE offered)" in caplog.text

    server.append(reply(people.owner, address, "Found by a poll."))
    wait_until(lambda: post_count(gw, ticket) == 2, what="the polled reply")
    assert idle_workers() == []  # each poll ran as a run of the folder's job; no thread waits on the server
    # a lost connection: the next run of the job connects again, after the back-off
    server.restart()
    server.append(reply(people.owner, address, "Found after the server restarted."))
    wait_until(lambda: post_count(gw, ticket) == 3, timeout=30, what="the reply after the restart")
    assert "connection lost" in caplog.text and "reconnecting in 1s" in caplog.text
    assert outcomes(gw) == [Outcome.POSTED, Outcome.POSTED]
    wait_until(lambda: mailbox_state(gw)["state"] == "polling", what="polling again")
    assert mailbox_state(gw)["last_error"] is None and not server.uids("INBOX")


def test_smtp_is_answered_while_a_poll_drains_a_backlog(gateway_with, dovecot_without_idle, people, ticket):
    backlog = 150
    server = dovecot_without_idle
    gw = gateway_with(**imap_settings(server), loop_sender_limit="1000", loop_ticket_limit="1000")
    owner_address = reply_address(gw, ticket, people.owner)
    server.append(*(reply(people.owner, owner_address, f"Backlog reply {i}.") for i in range(backlog)))
    wait_until(lambda: post_count(gw, ticket) > 10, what="the poll to be draining the backlog")

    staff_address = reply_address(gw, ticket, people.staff)
    result = gw.send(make_mail(people.staff, staff_address, "Re: [#1] Special blend survey", "Answered by SMTP."),
                     people.staff, staff_address)
    assert result.code == 250, result.message
    assert post_count(gw, ticket) < 1 + backlog + 1, "the SMTP reply waited for the whole backlog"

    wait_until(lambda: post_count(gw, ticket) == 1 + backlog + 1, timeout=60, what="the whole backlog")
    assert outcomes(gw).count(Outcome.POSTED) == backlog + 1


def test_polling_when_idle_is_turned_off_and_flagging_in_place(start_gateway, dovecot, people, ticket):
    gw = start_gateway(imap_idle="false", imap_processed_folder="")
    address = reply_address(gw, ticket, people.owner)
    dovecot.append(reply(people.owner, address, "Polled, not idled."))
    wait_until(lambda: post_count(gw, ticket) == 2, what="the polled reply")
    assert mailbox_state(gw)["idle"] is False
    with dovecot.client() as client:  # still in the INBOX, marked \Seen only after the commit
        client.select_folder("INBOX", readonly=True)
        wait_until(lambda: b"\\Seen" in client.get_flags(client.search("ALL"))[1], what="the flag")
        client.logout()
    # a restart of the gateway does not take it again: the cursor is in the database
    gw.stop()
    again = start_gateway(imap_idle="false", imap_processed_folder="")
    dovecot.append(reply(people.owner, address, "Second one."))
    wait_until(lambda: post_count(again, ticket) == 3, what="the second reply")
    assert outcomes(again) == [Outcome.POSTED, Outcome.POSTED]
