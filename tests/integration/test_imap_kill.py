"""Issue 6: a real `gateway serve` killed with SIGKILL while it reads the mailbox, then started
again: what was committed but not yet moved is fetched again (a duplicate), every message is
posted exactly once, nothing is lost."""

from __future__ import annotations

import collections
import signal

import pytest
from sqlalchemy import func, select

from dovecot import imap_settings, reply
from gateway.channels.imap import BATCH
from storage.db import make_engine, make_sessionmaker
from storage.models import InboundMessage, InboundOutcome, Outcome, Post
from support import cli, serve, wait_until

BACKLOG = 500  # many batches: a fast intake must not finish them all between two looks


@pytest.mark.timeout(300)
def test_kill_9_while_reading_the_mailbox_then_restart(monkeypatch, env, db_url, dovecot, sink, people, ticket):
    for name, value in {**imap_settings(dovecot), "loop_sender_limit": "1000", "loop_ticket_limit": "1000"}.items():
        monkeypatch.setenv(f"GATEWAY_{name.upper()}", value)
    address = cli("ticket", "addresses", ticket, "--for", people.owner, "--json").json()["reply_address"]
    bodies = [f"Backlog reply {i:04d}." for i in range(BACKLOG)]
    # in the mailbox before the gateway starts, so that it is read in batches of BATCH from UID 1
    dovecot.append(*(reply(people.owner, address, body) for body in bodies))
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)

    def committed() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(InboundOutcome))

    def mid_batch() -> bool:
        """Two batches moved (the cursor is past them) and some outcomes of the third committed: its
        messages are moved only after its last one."""
        done = committed()
        assert done < BACKLOG, "the backlog was finished before the kill; nothing was tested"
        return done > 2 * BATCH and 3 <= done % BATCH <= BATCH - 6

    first = serve()
    try:
        wait_until(mid_batch, timeout=60, what="the gateway to be in the middle of a batch")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    at_kill, moved = committed(), len(dovecot.uids("Processed"))
    assert 0 < moved < at_kill < BACKLOG

    second = serve()  # takes the folder over once the dead process's lease runs out
    try:
        wait_until(lambda: len(dovecot.uids("Processed")) == BACKLOG, timeout=120, what="every message moved")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert dovecot.uids("INBOX") == []

    with sessions() as session:
        posted = collections.Counter(session.scalars(select(Post.body).where(Post.ticket_id == ticket)))
        outcomes = collections.Counter(session.scalars(select(InboundOutcome.outcome)))
        posted_ids = collections.Counter(session.scalars(
            select(InboundMessage.message_id).join(InboundOutcome).where(InboundOutcome.outcome == Outcome.POSTED)))
    engine.dispose()
    assert all(posted[body] == 1 for body in bodies) and sum(posted.values()) == 1 + BACKLOG
    assert len(posted_ids) == BACKLOG and set(posted_ids.values()) == {1}
    # what was committed before the kill but not moved was fetched again, and only recorded
    assert outcomes == {Outcome.POSTED: BACKLOG, Outcome.DUPLICATE: at_kill - moved}
