"""Intake and fan-out throughput, against a null aiosmtpd server measured in the same run.

    .venv/bin/python bench/intake.py [--messages 300] [--delegates 5] [--database-url URL]

Prints messages/s through the real gateway (SMTP in, parse, trim, post, fan-out rows, commit,
250) next to a server that only answers 250, and the fan-out delivery rate to a recording sink.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from aiosmtpd.controller import Controller  # noqa: E402

from support import RunningGateway, Sink, free_port, make_mail  # noqa: E402


class _Null:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def send_all(port: int, messages: list[tuple[bytes, str, str]]) -> float:
    """Sends every message over one connection; returns messages per second."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        started = time.perf_counter()
        for raw, sender, recipient in messages:
            client.sendmail(sender, [recipient], raw)
        return len(messages) / (time.perf_counter() - started)


def null_rate(messages: list[tuple[bytes, str, str]]) -> float:
    port = free_port()
    controller = Controller(_Null(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        return send_all(port, messages)
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--delegates", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    os.chdir(workdir)
    sink = Sink()
    sink.start()
    http_port = free_port()
    os.environ.update({
        "GATEWAY_DATABASE_URL": args.database_url or f"sqlite:///{workdir}/bench.db",
        "GATEWAY_MAIL_DOMAIN": "gw.test", "GATEWAY_SMTP_PORT": str(free_port()),
        "GATEWAY_HTTP_PORT": str(http_port), "GATEWAY_BASE_URL": f"http://127.0.0.1:{http_port}",
        "GATEWAY_RELAY_HOST": "127.0.0.1", "GATEWAY_RELAY_PORT": str(sink.port),
        "GATEWAY_SECRET_KEY": "bench-secret-key-0123456789abcdef", "GATEWAY_DELIVERY_INTERVAL": "1",
        # one sender posting hundreds of replies is what the loop breaker stops; here it is the load
        "GATEWAY_LOOP_SENDER_LIMIT": "1000000", "GATEWAY_LOOP_TICKET_LIMIT": "1000000",
    })
    from gateway.app import Gateway
    from gateway.config import load_settings
    from gateway.delegates import accept, invite
    from gateway.tickets import NewPost, open_ticket
    from storage.db import transaction, upgrade
    from storage.models import Account, PostSource, Role

    settings = load_settings()
    upgrade(settings.database_url)
    gateway = Gateway(settings)
    with transaction(gateway.sessions) as session:
        staff = Account(email="staff@store.test", name="Staff", role=Role.STAFF)
        owner = Account(email="owner@client.test", name="Owner", role=Role.CLIENT)
        session.add_all([staff, owner])
        session.flush()
        ticket, _ = open_ticket(session, gateway.mailer, owner=owner, creator=staff, subject="Bench",
                                first_post=NewPost(body="Start", source=PostSource.CLI))
        for i in range(args.delegates):
            person = Account(email=f"d{i}@client.test", name=f"Delegate {i}", role=Role.CLIENT)
            session.add(person)
            session.flush()
            delegate = invite(session, gateway.mailer, ticket, person.email, staff, now=gateway.clock(),
                              ttl_seconds=3600)
            accept(session, gateway.mailer, delegate.id, gateway.clock())
        reply_address = gateway.addresses.reply_address(ticket.id, owner.id)
    setup_copies = 1 + args.delegates  # first post + thread so far (invitations accepted before sending are dropped)

    body = "Thanks, that works.\n\nOn Mon, 23 Nov 2026, Staff wrote:\n> Did it work?\n"
    messages = [(make_mail(owner.email, reply_address, "Re: Bench", f"Reply {i}. {body}"), owner.email, reply_address)
                for i in range(args.messages)]
    baseline = null_rate(messages)

    running = RunningGateway(gateway)
    running.start()
    try:
        sink.wait_for(setup_copies, timeout=120)
        rate = send_all(settings.smtp_port, messages)
        copies = args.messages * (args.delegates + 1)  # each post goes to the delegates and the staff
        started = time.perf_counter()
        sink.wait_for(setup_copies + copies, timeout=600)
        delivery = copies / (time.perf_counter() - started)
    finally:
        running.stop()
        sink.stop()
    backend = settings.database_url.split(":", 1)[0]
    print(f"database: {backend}; {args.messages} replies, each fanned out to {args.delegates + 1} people")
    print(f"null aiosmtpd server : {baseline:8.0f} msg/s  (baseline)")
    print(f"gateway intake       : {rate:8.0f} msg/s  = {rate / baseline:.3f} x baseline")
    print(f"fan-out delivery     : {delivery:8.0f} copies/s to the relay (after intake finished)")


if __name__ == "__main__":
    main()
