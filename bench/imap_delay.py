"""IMAP intake with IDLE: the delay from APPEND to post, next to what Dovecot itself takes, and a burst.

    .venv/bin/python bench/imap_delay.py [--replies 20] [--burst 500] [--database-url URL]

Runs a real Dovecot (tests/dovecot.py). Baseline: a bare client idling on the INBOX, timed from
another client's APPEND until it is told EXISTS. Gateway: IDLE, and a poll interval far longer than
the run, so that only IDLE brings mail in; each reply to a ticket is timed from its APPEND until its
post is in the database. Burst: --burst new-ticket messages APPENDed at once, timed until all are
tickets. With --database-url (a PostgreSQL server, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)
it runs on a database of its own there, dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sqlalchemy import func, select  # noqa: E402

from dovecot import Dovecot, imap_settings, post_count, reply, wait_idle  # noqa: E402
from support import (RunningGateway, Sink, cli, free_port, make_mail, reply_address, scratch_database,  # noqa: E402
                     wait_until)

OWNER, STAFF = "olivia@client.test", "sam@store.test"


def run(*args) -> str:
    result = cli(*args)
    if result.code != 0:
        raise RuntimeError(f"gateway {' '.join(map(str, args))}: {result.err}")
    return result.out


def until(predicate, timeout: float = 60) -> None:
    """wait_until, looking every 2 ms rather than 50: the delays measured are tens of milliseconds."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"nothing after {timeout:.0f}s")
        time.sleep(0.002)


def dovecot_delays(server: Dovecot, count: int) -> list[float]:
    """APPEND until a client idling on the INBOX is told EXISTS; the messages are deleted afterwards."""
    delays = []
    with server.client() as watcher:
        watcher.select_folder("INBOX")
        for i in range(count):
            watcher.idle()
            started = time.perf_counter()
            server.append(make_mail(OWNER, "support@gw.test", "Timing", f"Baseline message {i}."))
            responses = []
            while not any(r[1:2] == (b"EXISTS",) for r in responses):
                responses = watcher.idle_check(timeout=10)
                if not responses:
                    raise RuntimeError("Dovecot announced no EXISTS within 10 s")
            delays.append(time.perf_counter() - started)
            watcher.idle_done()
        watcher.delete_messages(watcher.search("ALL"))
        watcher.expunge()
    return delays


def post_delays(gw: RunningGateway, server: Dovecot, ticket: int, count: int) -> list[float]:
    """APPEND of a reply until its post is in the database, one reply at a time."""
    address = reply_address(gw, ticket, OWNER)
    delays = []
    for i in range(count):
        wait_idle(gw)
        started = time.perf_counter()
        server.append(reply(OWNER, address, f"Timed reply {i}."))
        until(lambda: post_count(gw, ticket) == 2 + i)
        delays.append(time.perf_counter() - started)
    return delays


def burst_rate(gw: RunningGateway, server: Dovecot, count: int) -> tuple[float, float]:
    """`count` clients write to the support address at once; returns (messages/s, seconds)."""
    from storage.models import Account, Role, Ticket

    clients = [f"client{i}@client.test" for i in range(count)]
    with gw.gateway.sessions() as session, session.begin():
        session.add_all(Account(email=c, name=f"Client {i}", role=Role.CLIENT) for i, c in enumerate(clients))
        before = session.scalar(select(func.count()).select_from(Ticket))
    messages = [make_mail(c, "support@gw.test", f"Question {i}", f"Question number {i}?")
                for i, c in enumerate(clients)]

    def tickets() -> int:
        with gw.gateway.sessions() as session:
            return session.scalar(select(func.count()).select_from(Ticket)) - before

    wait_idle(gw)
    started = time.perf_counter()
    server.append(*messages)
    wait_until(lambda: tickets() == count, timeout=600, what=f"{count} tickets")
    elapsed = time.perf_counter() - started
    return count / elapsed, elapsed


def summary(delays: list[float]) -> str:
    p90 = statistics.quantiles(delays, n=10, method="inclusive")[-1]
    return "  ".join(f"{seconds * 1000:7.1f}" for seconds in (statistics.median(delays), p90, max(delays)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replies", type=int, default=20)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--database-url", help="a PostgreSQL server; a database is made there for the run")
    args = parser.parse_args()
    if args.replies < 2:
        parser.error("--replies: at least 2, for a p90")

    with contextlib.ExitStack() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="gw-bench-"))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        os.chdir(workdir)
        database_url = (cleanup.enter_context(scratch_database(args.database_url, "gw_bench")) if args.database_url
                        else f"sqlite:///{workdir}/bench.db")
        server = Dovecot()
        cleanup.callback(server.cleanup)
        server.start()
        sink = Sink()
        sink.start()
        cleanup.callback(sink.stop)

        http_port = free_port()
        os.environ.update({
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_MAIL_DOMAIN": "gw.test", "GATEWAY_SMTP_PORT": str(free_port()),
            "GATEWAY_HTTP_PORT": str(http_port), "GATEWAY_BASE_URL": f"http://127.0.0.1:{http_port}",
            "GATEWAY_RELAY_HOST": "127.0.0.1", "GATEWAY_RELAY_PORT": str(sink.port),
            "GATEWAY_SECRET_KEY": "bench-secret-key-0123456789abcdef", "GATEWAY_DELIVERY_INTERVAL": "1",
            # one sender posting many replies is what the loop breaker stops; here it is the load
            "GATEWAY_LOOP_SENDER_LIMIT": "1000000", "GATEWAY_LOOP_TICKET_LIMIT": "1000000",
            **{f"GATEWAY_{name.upper()}": value for name, value in imap_settings(server).items()},
            "GATEWAY_IMAP_POLL_INTERVAL": "3600s",
        })
        from gateway.app import Gateway
        from gateway.config import load_settings
        from storage.db import upgrade

        upgrade(database_url)
        run("account", "add", STAFF, "--name", "Sam Staff", "--role", "staff")
        run("account", "add", OWNER, "--name", "Olivia Owner", "--role", "client")
        ticket = int(run("ticket", "create", "--owner", OWNER, "--by", STAFF, "--subject", "Special blend survey",
                         "--body", "How did you like the special blend?"))

        baseline = dovecot_delays(server, args.replies)
        gw = RunningGateway(Gateway(load_settings()))
        gw.start()
        cleanup.callback(gw.stop)
        delays = post_delays(gw, server, ticket, args.replies)
        rate, elapsed = burst_rate(gw, server, args.burst)

    extra = statistics.median(delays) - statistics.median(baseline)
    print(f"database: {database_url.split(':', 1)[0]}; Dovecot with IDLE; gateway polls every hour, "
          f"so IDLE alone brings mail in")
    print(f"APPEND until ...  ({args.replies} times)    median      p90      max  (ms)")
    print(f"  Dovecot tells an idling client : {summary(baseline)}  (baseline)")
    print(f"  the gateway's post is committed: {summary(delays)}")
    print(f"gateway's extra delay: {extra * 1000:.1f} ms (median); gateway / baseline = "
          f"{statistics.median(delays) / statistics.median(baseline):.2f} x")
    print(f"burst: {args.burst} new-ticket messages APPENDed at once, all tickets after {elapsed:.1f} s "
          f"= {rate:.0f} msg/s")


if __name__ == "__main__":
    main()
