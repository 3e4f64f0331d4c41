"""Test helpers: a recording SMTP sink, the gateway running on loopback, mail builders, clients."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import io
import json
import os
import re
import smtplib
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from aiosmtpd.controller import Controller



@contextlib.contextmanager
def scratch_database(server_url: str, prefix: str):
    """A new, empty database on the PostgreSQL server of server_url; dropped afterwards, even while
    connections remain. Yields its URL."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server_url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clock:
    """Wall time plus an offset the test can move forward."""

    def __init__(self):
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, **kwargs) -> None:
        self.offset += timedelta(**kwargs)


# --- the recording sink (the relay the gateway sends through) ---------------------------------

@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw.replace(b"\r\n", b"\n"), policy=email.policy.default)

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return str(value) if value is not None else None

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else ""

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")


class _SinkHandler:
    def __init__(self, sink: "Sink"):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            delay = self.sink.delays.pop(0) if self.sink.delays else 0
            self.sink.slow_in_flight += bool(delay)
        if delay:
            await asyncio.sleep(delay)
        with self.sink.lock:
            self.sink.slow_in_flight -= bool(delay)
            if self.sink.failures:
                return self.sink.failures.pop(0)
            self.sink.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            self.sink.lock.notify_all()
        return "250 2.0.0 OK"


class Sink:
    """A real SMTP server on loopback that records what it is sent; can be told to refuse."""

    def __init__(self):
        self.port = free_port()
        self.received: list[Received] = []
        self.failures: list[str] = []
        self.delays: list[float] = []
        self.slow_in_flight = 0  # delayed messages not answered yet
        self.lock = threading.Condition()
        self._controller = Controller(_SinkHandler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def fail_next(self, *replies: str) -> None:
        with self.lock:
            self.failures.extend(replies)

    def delay_next(self, *seconds: float) -> None:
        """The next messages' 250 comes only after this long each: a slow relay."""
        with self.lock:
            self.delays.extend(seconds)

    def wait_for(self, count: int = 1, to: str | None = None, timeout: float = 15) -> list[Received]:
        """Wait until `count` messages (to `to`, if given) have arrived; return them."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                matching = [m for m in self.received if to is None or to.lower() in (r.lower() for r in m.rcpt_tos)]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = [(m.rcpt_tos, m.header("Subject")) for m in self.received]
                    raise AssertionError(f"waited for {count} message(s) to {to}; sink has {got}")
                self.lock.wait(remaining)

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.received if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def clear(self) -> None:
        with self.lock:
            self.received.clear()


# --- the gateway, served from a thread of the test process -----------------------------------

class RunningGateway:
    def __init__(self, gateway):
        self.gateway = gateway
        self.settings = gateway.settings
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.running = False

    def start(self) -> None:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.gateway.start(), self.loop).result(timeout=30)
        except BaseException:
            self.running = True  # close what did open, then end the loop
            self.stop()
            raise
        self.running = True

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        asyncio.run_coroutine_threadsafe(self.gateway.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    # clients ---------------------------------------------------------------------------

    def smtp(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.settings.smtp_port, timeout=30)

    def send(self, raw: bytes, sender: str, recipients: list[str] | str) -> "SmtpResult":
        """One SMTP transaction; returns every reply code so tests can compare them exactly."""
        if isinstance(recipients, str):
            recipients = [recipients]
        with self.smtp() as client:
            client.ehlo("client.test")
            client.mail(sender)
            rcpt = [client.rcpt(r) for r in recipients]
            if not any(code == 250 for code, _ in rcpt):
                return SmtpResult(rcpt, None, None)
            code, message = client.data(raw)
            return SmtpResult(rcpt, code, message.decode())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}{path}"


@dataclass
class SmtpResult:
    rcpt: list[tuple[int, bytes]]
    code: int | None
    message: str | None


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):
        import json
        return json.loads(self.out)


def account_id(gw, email: str) -> int:
    """The id of the account with this address, from the running gateway's database."""
    from gateway.domain.accounts import find_account

    with gw.gateway.sessions() as session:
        return find_account(session, email).id


def reply_address(gw, ticket: int, email: str) -> str:
    """The reply address the gateway mints for (ticket, account), as in that account's notifications."""
    return gw.gateway.addresses.reply_address(ticket, account_id(gw, email))


def cli(*args, clock: Clock | None = None) -> CliResult:
    """Runs the real `gateway` command in-process (settings come from the GATEWAY_* environment)."""
    from gateway.main import main as cli_main
    from storage.models import utcnow

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main([str(a) for a in args], clock or utcnow)
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return CliResult(code, out.getvalue(), err.getvalue())


# --- HTTP --------------------------------------------------------------------------------

@dataclass
class HttpResult:
    status: int
    body: str
    headers: dict = field(default_factory=dict)

    def json(self):
        return json.loads(self.body)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is returned to the test as it is


_opener = urllib.request.build_opener(_NoRedirects)


def http(method: str, url: str, form: dict | None = None, *, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> HttpResult:
    """One request; redirects are not followed, so a test sees any 3xx."""
    data = urllib.parse.urlencode(form).encode() if form is not None else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _opener.open(request, timeout=30) as response:
            return HttpResult(response.status, response.read().decode(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return HttpResult(error.code, error.read().decode(), dict(error.headers))


def api(gw, method: str, path: str, token: str | None, payload=None, *, body: bytes | None = None) -> HttpResult:
    """A call to the gateway's HTTP API with a bearer token (None: without one)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if payload is not None:
        body = json.dumps(payload).encode()
    return http(method, gw.url(path), body=body, headers=headers)


def api_token(email_address: str) -> str:
    result = cli("api-token", "create", "--for", email_address, "--json")
    assert result.code == 0, result.err
    return result.json()["token"]


def accept_link(invite: Received) -> str:
    """The accept link: a bare URL on its own line of the invitation's text part."""
    links = [line.strip() for line in invite.text.splitlines() if re.fullmatch(r"\s*https?://\S+/accept/\S+\s*", line)]
    assert len(links) == 1, f"expected one accept link line, got {links}"
    return links[0]


def nonce_of(page: str) -> str:
    match = re.search(r'name="nonce" value="([^"]+)"', page)
    assert match, "confirmation page has no nonce field"
    return match[1]


# --- mail builders ----------------------------------------------------------------------

def make_mail(sender: str, to: str, subject: str = "Hello", body: str = "Hello there", *,
              html: str | None = None, headers: dict[str, str] | None = None,
              message_id: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="client.test")
    msg["Date"] = email.utils.formatdate()
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes(policy=email.policy.SMTP)


def reply_to(received: Received, sender: str, body: str, **kwargs) -> tuple[bytes, str]:
    """A reply the way a mail client writes it: new text above the quoted original."""
    original = received.text
    quoted = "\n".join(f"> {line}" for line in original.splitlines())
    text = f"{body}\n\nOn Mon, 23 Nov 2026 at 10:00, Store <support> wrote:\n{quoted}\n"
    address = received.header("Reply-To")
    assert address, "notification has no Reply-To"
    headers = {"In-Reply-To": received.header("Message-ID"), "References": received.header("Message-ID")}
    headers.update(kwargs.pop("headers", {}))
    return make_mail(sender, address, "Re: " + (received.header("Subject") or ""), text,
                     headers=headers, **kwargs), address


class TcpProxy:
    """A loopback TCP proxy the test can cut, to make a real storage outage."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept_loop, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the listener and every open connection: the database is gone."""
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept(); close() alone does not
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._connections.clear()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, dest: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                dest.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dest.shutdown(socket.SHUT_WR)


def wait_until(predicate, timeout: float = 15, what: str = "condition", interval: float = 0.05):
    """Poll until predicate() is truthy; returns its value. Waiting is not a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(interval)


# --- what a user sees: the CLI's JSON --------------------------------------------------------

def show(ticket: int) -> dict:
    result = cli("ticket", "show", ticket, "--json")
    assert result.code == 0, result.err
    return result.json()


def posts(ticket: int) -> list[dict]:
    return show(ticket)["posts"]


def inbound(limit: int = 50) -> list[dict]:
    """The newest inbound outcomes first."""
    return cli("inbound", "list", "--limit", limit, "--json").json()


def delegates(ticket: int, *flags: str) -> dict[str, str]:
    result = cli("delegate", "list", ticket, "--json", *flags)
    assert result.code == 0, result.err
    return {d["email"]: d["status"] for d in result.json()}


def delivery(email_address: str) -> dict:
    """An account's delivery state (bounces)."""
    return cli("account", "show", email_address, "--json").json()["delivery"]


def invite_address(gw, people, ticket) -> str:
    result = cli("ticket", "addresses", ticket, "--for", people.staff, "--json")
    assert result.code == 0, result.err
    return result.json()["invite_address"]


def inbound_count(gw) -> int:
    """How many messages the gateway took in (each has its outcomes)."""
    from storage.models import InboundMessage

    with gw.gateway.sessions() as session:
        return session.query(InboundMessage).count()


def outbox_count(gw) -> int:
    """How many copies the gateway has queued or sent, ever."""
    from storage.models import OutboxMessage

    with gw.gateway.sessions() as session:
        return session.query(OutboxMessage).count()


def seed_delegates(db_url: str, ticket: int, count: int) -> list[str]:
    """`count` accepted delegates on the ticket, written straight to the database (the CLI would take minutes)."""
    from datetime import timedelta

    from storage.db import make_engine, make_sessionmaker, transaction
    from storage.models import Account, Delegate, DelegateStatus, Role, Ticket, utcnow

    engine = make_engine(db_url)
    emails = [f"delegate{i:04d}@client.test" for i in range(count)]
    with transaction(make_sessionmaker(engine)) as session:
        ticket_row = session.get(Ticket, ticket)
        now = utcnow()
        for email_ in emails:
            account = Account(email=email_, name=email_.split("@")[0], role=Role.CLIENT)
            session.add(account)
            session.flush()
            session.add(Delegate(ticket_id=ticket_row.id, account_id=account.id, status=DelegateStatus.ACCEPTED,
                                 invited_by_id=ticket_row.creator_id, invited_at=now, accepted_at=now,
                                 expires_at=now + timedelta(days=7)))
    engine.dispose()
    return emails


def store_account_as_is(db_url: str, email_address: str, role: str, delegate_on: int | None = None) -> None:
    """An account written straight to the database, the way one was stored before its address had to be
    ASCII; with `delegate_on`, an accepted delegate of that ticket."""
    from datetime import timedelta

    from storage.db import make_engine, make_sessionmaker, transaction
    from storage.models import Account, Delegate, DelegateStatus, Role, Ticket, utcnow

    engine = make_engine(db_url)
    with transaction(make_sessionmaker(engine)) as session:
        account = Account(email=email_address, name=email_address.split("@")[0].capitalize(), role=Role(role))
        session.add(account)
        session.flush()
        if delegate_on is not None:
            now = utcnow()
            session.add(Delegate(ticket_id=delegate_on, account_id=account.id, status=DelegateStatus.ACCEPTED,
                                 invited_by_id=session.get(Ticket, delegate_on).creator_id, invited_at=now,
                                 accepted_at=now, expires_at=now + timedelta(days=7)))
    engine.dispose()


def outbox_errors(gw, recipient: str) -> list[str | None]:
    """Why each copy to `recipient` failed (None for those that did not), oldest first."""
    from storage.models import OutboxMessage

    with gw.gateway.sessions() as session:
        rows = session.query(OutboxMessage).filter_by(recipient=recipient).order_by(OutboxMessage.id)
        return [row.last_error for row in rows]


def database_size(db_url: str) -> int:
    """Bytes the database takes on disk (SQLite: its file, once the write-ahead log is folded in)."""
    import sqlite3

    from sqlalchemy import create_engine, text

    if db_url.startswith("sqlite"):
        path = db_url.split("///", 1)[1]
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return os.path.getsize(path)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT pg_database_size(current_database())"))
    finally:
        engine.dispose()


def outbox_status(gw, recipient: str) -> list[str]:
    """The status of every copy to `recipient`, oldest first."""
    from storage.models import OutboxMessage

    with gw.gateway.sessions() as session:
        rows = session.query(OutboxMessage).filter_by(recipient=recipient).order_by(OutboxMessage.id)
        return [row.status.value for row in rows]


# --- what people and machines do ---------------------------------------------------------------

def invite_and_accept(sink, people, ticket: int, who: str | None = None) -> None:
    who = who or people.delegate
    assert cli("delegate", "invite", ticket, who, "--by", people.staff).code == 0
    link = accept_link(sink.wait_for(1, to=who)[-1])
    page = http("GET", link)
    assert http("POST", link, {"nonce": nonce_of(page.body)}).status == 200


def forward(staff: str, invite_address: str, note: str, original_from: str = "Carol Client <carol@client.test>"):
    """A staff member's forward, with `note` written above the forwarded message (Gmail's format)."""
    body = (f"{note}\n\n---------- Forwarded message ---------\nFrom: {original_from}\n"
            "Date: Mon, 23 Nov 2026 at 09:00\nSubject: Loved the beans\nTo: support@gw.test\n\n"
            "The special blend was great, can I order more? Write to bob@example.org too.\n")
    return make_mail(staff, invite_address, "Fwd: Loved the beans", body)


def dsn(verp: str, failed: str, status: str, action: str = "failed", message_id: str = "<dsn@mx.client.test>") -> bytes:
    """An RFC 3464 delivery status notification for `failed`, returned to `verp`."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.client.test>\r\n"
        f"To: {verp}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.client.test\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: {action}\r\nStatus: {status}\r\n"
        "--B--\r\n"
    ).encode()


# --- `gateway serve` as a real process ---------------------------------------------------------

def serve() -> subprocess.Popen:
    """Starts `gateway serve` with the test's GATEWAY_* settings; its output goes to serve.log in
    the current (the test's temporary) folder."""
    log = open("serve.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=os.environ.copy(),
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    health = f"http://127.0.0.1:{os.environ['GATEWAY_HTTP_PORT']}/healthz"

    def healthy() -> bool:
        if process.poll() is not None:
            tail = Path("serve.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"gateway exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(health, timeout=2) as response:
                return json.loads(response.read())["status"] == "ok"
        except OSError:
            return False
    wait_until(healthy, timeout=60, what="gateway serve to answer /healthz")
    return process
