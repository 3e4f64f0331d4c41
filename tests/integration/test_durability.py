"""Issue 5 "Durability": a real `gateway serve` process killed with SIGKILL in the middle of a
fan-out loses no recipient; only a copy caught between the relay's 250 and our record of it
goes twice, with the same Message-ID."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import urllib.request
from datetime import timedelta

import pytest

from support import cli, wait_until

DELEGATES = 200


def serve() -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=os.environ.copy(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    health = f"http://127.0.0.1:{os.environ['GATEWAY_HTTP_PORT']}/healthz"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"gateway exited with {process.returncode}")
        try:
            with urllib.request.urlopen(health, timeout=2) as response:
                return json.loads(response.read())["status"] == "ok"
        except OSError:
            return False
    wait_until(healthy, timeout=60, what="gateway serve to answer /healthz")
    return process


def seed_delegates(db_url: str, ticket: int) -> list[str]:
    """200 accepted delegates, written straight to the database (the CLI would take minutes)."""
    from storage.db import make_engine, make_sessionmaker, transaction
    from storage.models import Account, Delegate, DelegateStatus, Role, Ticket, utcnow

    engine = make_engine(db_url)
    emails = [f"delegate{i:03d}@client.test" for i in range(DELEGATES)]
    with transaction(make_sessionmaker(engine)) as session:
        ticket_row = session.get(Ticket, ticket)
        now = utcnow()
        for email in emails:
            account = Account(email=email, name=email.split("@")[0], role=Role.CLIENT)
            session.add(account)
            session.flush()
            session.add(Delegate(ticket_id=ticket_row.id, account_id=account.id, status=DelegateStatus.ACCEPTED,
                                 invited_by_id=ticket_row.creator_id, invited_at=now, accepted_at=now,
                                 expires_at=now + timedelta(days=7)))
    engine.dispose()
    return emails


@pytest.mark.timeout(300)
def test_kill_9_during_a_200_recipient_fan_out_loses_no_one(monkeypatch, env, db_url, sink, people, ticket):
    monkeypatch.setenv("GATEWAY_DELIVERY_LEASE", "3s")
    emails = seed_delegates(db_url, ticket)
    first = serve()
    try:
        sink.wait_for(1, to=people.owner)  # the ticket's first post, before the test begins
        assert cli("post", ticket, "--by", people.owner, "--body", "Fan me out").code == 0
        wait_until(lambda: sum("Fan me out" in m.text for m in sink.received) >= 30, timeout=60,
                   what="the fan-out to be under way")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    delivered_before_kill = sum("Fan me out" in m.text for m in sink.received)
    assert delivered_before_kill < DELEGATES + 1, "the fan-out finished before the kill; nothing was tested"

    second = serve()
    try:
        def everyone_served() -> bool:
            got = {m.to for m in sink.received if "Fan me out" in m.text}
            return got >= set(emails) | {people.staff}
        wait_until(everyone_served, timeout=120, what="every recipient to get the post after the restart")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    copies = collections.Counter(m.to for m in sink.received if "Fan me out" in m.text)
    twice = [to for to, n in copies.items() if n > 1]
    assert len(twice) <= 1, f"more than the one copy in flight went twice: {twice}"
    for to in twice:
        ids = {m.header("Message-ID") for m in sink.received if m.to == to and "Fan me out" in m.text}
        assert len(ids) == 1, "a copy sent twice must keep its Message-ID"
