"""Fan-out at the speed of the wire: intake, delivery, big posts and crash recovery, each beside a
baseline measured in the same run, on SQLite and on PostgreSQL.

    .venv/bin/python bench/wire_speed.py [--replies 2000] [--sessions 8] [--delegates 10]
                                         [--big 1000,10000] [--databases sqlite,postgresql]

The gateway runs as `python -m gateway serve` (its own process, as in production) and relays to
Postfix's `smtp-sink` when installed (apt-get install postfix), else to a null aiosmtpd server in a
process of its own. Figures:
- replies accepted per second: distinct replies from a ticket's owner over --sessions SMTP sessions
  (connections reused), each fanned out to --delegates accepted delegates and the staff member;
  baseline: a null aiosmtpd server (answers 250, stores nothing), same client, same messages;
- copies reaching the relay per second while that load runs; baseline: plain smtplib sending the
  gateway's own rendered copy over one connection to the same sink;
- one staff post to each --big number of accepted delegates: seconds until the last copy is recorded
  as taken by the relay, the rise in the gateway's peak RSS, database growth per copy;
- recovery: kill -9 during the first --big post's fan-out, restart, seconds until every copy is sent.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support import database_size, free_port, make_mail, scratch_database, wait_until  # noqa: E402

PG_SERVER = os.environ.get("GATEWAY_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEY = "bench-secret-key-0123456789abcdef0123456789"
NULL_SERVER = """
import asyncio, sys
from aiosmtpd.controller import Controller
class Null:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
controller = Controller(Null(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.read()
"""


# --- processes ---------------------------------------------------------------------------

def _wait_for_port(port: int) -> None:
    import socket

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait_until(listening, timeout=30, what=f"a server on port {port}")


@contextlib.contextmanager
def null_aiosmtpd():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", NULL_SERVER, str(port)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)
    process.stdout.readline()
    try:
        yield port
    finally:
        process.kill()
        process.wait()


@contextlib.contextmanager
def relay_sink():
    """Postfix's smtp-sink when installed (what the issue's baseline used), else a null aiosmtpd."""
    binary = shutil.which("smtp-sink") or ("/usr/sbin/smtp-sink" if os.path.exists("/usr/sbin/smtp-sink") else None)
    if binary is None:
        with null_aiosmtpd() as port:
            yield port, "null aiosmtpd (install postfix for smtp-sink)"
        return
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen([binary, *user, f"127.0.0.1:{port}", "256"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_for_port(port)
    try:
        yield port, "Postfix smtp-sink"
    finally:
        process.kill()
        process.wait()


class Gateway:
    """`python -m gateway serve` with the bench's settings."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir = workdir
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.workdir / "serve.log", "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=self.env, cwd=self.workdir,
                                        stdout=log, stderr=subprocess.STDOUT)
        log.close()
        health = f"http://127.0.0.1:{self.env['GATEWAY_HTTP_PORT']}/healthz"

        def healthy() -> bool:
            if self.process.poll() is not None:
                raise SystemExit(f"gateway exited: {(self.workdir / 'serve.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(health, timeout=2):
                    return True
            except OSError:
                return False
        wait_until(healthy, timeout=60, what="gateway serve to answer /healthz")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)


# --- data --------------------------------------------------------------------------------

class Store:
    """Accounts, tickets and delegates written straight to the database (the CLI would take minutes)."""

    def __init__(self, url: str):
        from storage.db import make_engine, make_sessionmaker, upgrade

        upgrade(url)
        self.url = url
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)
        self.made = 0

    def ticket_with(self, delegates: int) -> dict:
        from sqlalchemy import insert, select

        from storage.db import transaction
        from storage.models import Account, Delegate, DelegateStatus, Post, PostSource, Role, Ticket, utcnow

        self.made += 1
        n = self.made
        now = utcnow()
        with transaction(self.sessions) as session:
            staff = Account(email=f"staff{n}@store.test", name=f"Staff {n}", role=Role.STAFF)
            owner = Account(email=f"owner{n}@client.test", name=f"Owner {n}", role=Role.CLIENT)
            session.add_all([staff, owner])
            session.flush()
            ticket = Ticket(subject=f"Bench {n}", owner_id=owner.id, creator_id=staff.id)
            session.add(ticket)
            session.flush()
            session.add(Post(ticket_id=ticket.id, author_id=staff.id, body="How did you like the blend?",
                             source=PostSource.CLI))
            emails = [f"t{n}-delegate{i:05d}@client.test" for i in range(delegates)]
            session.execute(insert(Account), [{"email": e, "name": f"Delegate {i}", "role": Role.CLIENT,
                                               "created_at": now} for i, e in enumerate(emails)])
            ids = session.scalars(select(Account.id).where(Account.email.in_(emails))).all()
            session.execute(insert(Delegate), [
                {"ticket_id": ticket.id, "account_id": i, "status": DelegateStatus.ACCEPTED,
                 "invited_by_id": staff.id, "invited_at": now, "accepted_at": now,
                 "expires_at": now + timedelta(days=7)} for i in ids])
            return {"ticket": ticket.id, "staff": staff.email, "staff_id": staff.id, "owner": owner.email,
                    "owner_id": owner.id}

    def unsent(self) -> int:
        from sqlalchemy import func, select

        from storage.models import OutboxMessage, OutboxStatus

        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING))))

    def copies(self) -> int:
        from sqlalchemy import func, select

        from storage.models import OutboxMessage

        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(OutboxMessage))

    def size(self) -> int:
        return database_size(self.url)

    def one_copy(self, settings) -> bytes:
        """A copy of a post as the gateway sends it, rendered by its own code."""
        from sqlalchemy import select

        from gateway.outbox.letters import ROW_COLUMNS, Letters
        from gateway.outbox.render import Renderer
        from parsers.addresses import AddressBook, LinkSigner
        from storage.models import OutboxMessage as O

        letters = Letters(settings, AddressBook(KEY.encode(), settings.mail_domain, settings.support),
                          LinkSigner(KEY.encode()), Renderer(settings.templates_dir, settings.store_name))
        with self.sessions() as session:
            row = session.execute(select(*ROW_COLUMNS).where(O.kind == "post").limit(1)).one()
            copies, _ = letters.compose(session, [row])
        return copies[0].raw


# --- load --------------------------------------------------------------------------------

def send_over(port: int, messages: list[tuple[bytes, str, str]], sessions: int) -> float:
    """Every message over `sessions` connections at once, each reused; returns messages per second."""
    shares = [messages[i::sessions] for i in range(sessions)]
    errors: list[BaseException] = []
    ready = threading.Barrier(sessions + 1)

    def run(share) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
                client.ehlo()
                ready.wait()
                for raw, sender, recipient in share:
                    client.sendmail(sender, [recipient], raw)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            with contextlib.suppress(threading.BrokenBarrierError):
                ready.abort()

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return len(messages) / (time.perf_counter() - started)


def smtplib_rate(port: int, raw: bytes, count: int) -> float:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        started = time.perf_counter()
        for i in range(count):
            client.sendmail("b-1-x@gw.test", [f"someone{i}@client.test"], raw)
        return count / (time.perf_counter() - started)


def wait_sent(store: Store, timeout: float) -> float:
    started = time.perf_counter()
    wait_until(lambda: store.unsent() == 0, timeout=timeout, interval=0.02, what="every copy to reach the relay")
    return time.perf_counter() - started


# --- one database ---------------------------------------------------------------------------

def run(url: str, args, sink_port: int) -> dict:
    from gateway.config import load_settings
    from parsers.addresses import AddressBook

    workdir = Path(tempfile.mkdtemp(prefix="gw-wire-"))
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")} | {
        "GATEWAY_DATABASE_URL": url, "GATEWAY_MAIL_DOMAIN": "gw.test", "GATEWAY_STORE_NAME": "Bean Store",
        "GATEWAY_SMTP_PORT": str(free_port()), "GATEWAY_HTTP_PORT": str(http_port),
        "GATEWAY_BASE_URL": f"http://127.0.0.1:{http_port}", "GATEWAY_RELAY_HOST": "127.0.0.1",
        "GATEWAY_RELAY_PORT": str(sink_port), "GATEWAY_SECRET_KEY": KEY, "GATEWAY_LOG_LEVEL": "WARNING",
        # one sender posting thousands of replies is what the loop breaker stops; here it is the load
        "GATEWAY_LOOP_SENDER_LIMIT": "100000000", "GATEWAY_LOOP_TICKET_LIMIT": "100000000",
        "PYTHONPATH": str(ROOT),
    }
    settings = load_settings(environ=env)
    addresses = AddressBook(KEY.encode(), settings.mail_domain, settings.support)
    store = Store(url)
    small = store.ticket_with(args.delegates)
    bigs = [store.ticket_with(n) for n in args.big]
    gateway = Gateway(workdir, env)
    gateway.start()
    result: dict = {}
    try:
        address = addresses.reply_address(small["ticket"], small["owner_id"])
        body = "Thanks, that works.\n\nOn Mon, 23 Nov 2026, Staff wrote:\n> Did it work?\n"
        messages = [(make_mail(small["owner"], address, "Re: Bench", f"Reply {i}. {body}"), small["owner"], address)
                    for i in range(args.replies)]
        with null_aiosmtpd() as null_port:
            result["null"] = send_over(null_port, messages, args.sessions)
        before = store.copies()
        started = time.perf_counter()
        result["replies"] = send_over(settings.smtp_port, messages, args.sessions)
        wait_sent(store, timeout=1200)
        result["copies"] = (store.copies() - before) / (time.perf_counter() - started)
        result["smtplib"] = smtplib_rate(sink_port, store.one_copy(settings), 2000)

        for n, big in zip(args.big, bigs):
            size, rss = store.size(), gateway.peak_rss_mb()
            address = addresses.reply_address(big["ticket"], big["staff_id"])
            raw = make_mail(big["staff"], address, "Re: the blend", "The next batch ships on Monday.")
            started = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", settings.smtp_port, timeout=120) as client:
                client.sendmail(big["staff"], [address], raw)
            wait_sent(store, timeout=1200)
            result[f"post{n}"] = (time.perf_counter() - started, gateway.peak_rss_mb() - rss,
                                  (store.size() - size) / (n + 1))

        big = bigs[0]
        address = addresses.reply_address(big["ticket"], big["owner_id"])
        raw = make_mail(big["owner"], address, "Re: the blend", "Will there be a decaf version?")
        with smtplib.SMTP("127.0.0.1", settings.smtp_port, timeout=120) as client:
            client.sendmail(big["owner"], [address], raw)  # answered after the commit: its copies are queued
        wait_until(lambda: store.unsent() <= 0.8 * args.big[0], timeout=120, interval=0.005,
                   what="a fifth of the fan-out to be sent")
        gateway.kill()
        unsent_at_kill = store.unsent()
        started = time.perf_counter()
        gateway.start()
        wait_sent(store, timeout=600)
        result["recovery"] = (unsent_at_kill, time.perf_counter() - started)
    finally:
        gateway.stop()
        store.engine.dispose()
    return result


def report(name: str, sink: str, args, r: dict) -> None:
    print(f"\n== {name}  (relay: {sink}; {args.sessions} sessions, each reply to {args.delegates} delegates + staff)")
    print(f"replies accepted/s : {r['replies']:8.0f}   null aiosmtpd, same client: {r['null']:8.0f}   "
          f"ratio {r['replies'] / r['null']:.3f}")
    print(f"copies to relay/s  : {r['copies']:8.0f}   smtplib, gateway's own copy:  {r['smtplib']:8.0f}   "
          f"ratio {r['copies'] / r['smtplib']:.3f}")
    for n in args.big:
        seconds, rss, per_copy = r[f"post{n}"]
        print(f"post to {n:>6} delegates: {seconds:6.2f} s to the last copy, peak RSS +{rss:.0f} MB, "
              f"database +{per_copy:.0f} bytes per copy")
    unsent, seconds = r["recovery"]
    print(f"kill -9 with {unsent} copies unsent, restart: every copy sent {seconds:.1f} s after the restart began")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--delegates", type=int, default=10)
    parser.add_argument("--big", default="1000,10000", help="sizes of the big posts, comma-separated")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    args.big = [int(n) for n in args.big.split(",") if n]
    with relay_sink() as (sink_port, sink):
        for name in args.databases.split(","):
            if name == "sqlite":
                folder = Path(tempfile.mkdtemp(prefix="gw-wire-db-"))
                report(name, sink, args, run(f"sqlite:///{folder}/bench.db", args, sink_port))
            else:
                with scratch_database(PG_SERVER, "gw_wire") as url:
                    report(name, sink, args, run(url, args, sink_port))


if __name__ == "__main__":
    main()
