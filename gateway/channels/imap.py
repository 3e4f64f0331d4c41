"""Mailbox intake over IMAP: every folder read by one gateway process at a time, every message
through the same pipeline as SMTP mail. IMAP and database calls block: they run on threads, never
on the event loop.

Two scheduler jobs (gateway/jobs.py), each on a thread of its own:

  lease     every imap_lease/3: renews this process's lease on each folder, or takes a free one
            (then wakes that folder's job); a lease another process took means standing by
  folder    every imap_poll_interval, per folder: connects when needed (IMAPS, STARTTLS or plain;
            login; select; the cursor), then polls: NOOP, UID SEARCH past the cursor, drain. When
            the server offers IDLE it starts the folder's IDLE worker instead, a thread that drains
            and waits in IDLE (re-issued every imap_poll_interval, at most IDLE_RENEW) until it
            fails or stops; the job only reconnects it then.

  cursor    (UIDVALIDITY, last UID) in the database; a new UIDVALIDITY means a rescan from UID 1,
            where the pipeline's dedupe (Message-ID or content, sender, recipient) skips what was done
  drain     FETCH BODY.PEEK[] (nothing is marked read by fetching); Intake.process commits the
            outcome; only then the message is moved to the processed folder (or flagged \\Seen);
            only then the cursor moves on
  errors    lost connection, server restart, login failure, database down: one log line, the
            connection dropped, the folder's job run again after a back-off (1 s doubling to MAX_BACKOFF)

A crash between commit and move fetches the message again; it is then a duplicate, posted once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from sqlalchemy import exc as sa_exc
from sqlalchemy import or_, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import Settings
from gateway.domain.errors import StorageUnavailable
from gateway.jobs import Jobs
from gateway.intake.arrival import Arrival
from gateway.intake.pipeline import Intake
from parsers.addresses import AddressBook, Served, SupportRoute, redact
from storage.db import STORAGE_DOWN, rows_changed, transaction
from storage.models import MailboxCursor, Outcome

log = logging.getLogger(__name__)

BATCH = 25  # messages per FETCH; the move and the cursor follow each batch
IDLE_RENEW = 9 * 60  # re-issue IDLE well within the 29-minute limit
IDLE_TICK = 0.5  # how often an idling worker looks at its stop flag and lease
BACKOFF_START = 1.0
MAX_BACKOFF = 60.0
SOCKET_TIMEOUT = 60.0
STOP_GRACE = 20.0
LEASE_JOB = "imap leases"
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc")
_NETWORK_ERRORS = (IMAPClientError, OSError, ssl.SSLError, socket.timeout, EOFError)
_DATABASE_ERRORS = (StorageUnavailable, *STORAGE_DOWN)


class ConnectionLost(Exception):
    """The server said BYE or closed the connection."""


class LeaseLost(Exception):
    """Another process took this folder over."""


def wall_clock() -> datetime:
    return datetime.now(timezone.utc)


def arrival_for(raw: bytes, addresses: AddressBook) -> Arrival:
    """The IMAP equivalent of the SMTP envelope, from the headers the delivering server wrote.

    Recipients: the gateway addresses among Delivered-To, X-Original-To, To and Cc; a reply,
    invite or bounce address wins over the support address (a provider often delivers every
    address of the domain into the support mailbox); none at all means the support address.
    Sender: the Return-Path ("" for <>), None when there is none."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    found: list[Served] = []
    for name in _RECIPIENT_HEADERS:
        for _, address in getaddresses([str(v) for v in headers.get_all(name, [])]):
            served = addresses.served(address)
            if served is not None:
                found.append(served)
    tokens = [r for r in found if not isinstance(r.route, SupportRoute)]
    recipients = tokens or [Served(addresses.support_address, SupportRoute())]
    return_path = headers.get("Return-Path")
    sender = None if return_path is None else str(return_path).strip().strip("<>").strip()
    return Arrival(sender=sender, recipients=tuple(recipients), channel="imap", answers_sender=False)


@dataclass
class FolderStatus:
    """What /healthz shows for one folder."""

    mailbox: str
    state: str = "starting"  # starting | connecting | idle | polling | processing | standby | reconnecting | stopped
    since: datetime = field(default_factory=wall_clock)
    last_error: str | None = None
    uidvalidity: int | None = None
    last_uid: int = 0
    processed: int = 0
    idle: bool | None = None

    def as_dict(self) -> dict:
        return {"mailbox": self.mailbox, "state": self.state, "since": self.since.isoformat(timespec="seconds"),
                "last_error": self.last_error, "uidvalidity": self.uidvalidity, "last_uid": self.last_uid,
                "processed": self.processed, "idle": self.idle}


class Lease:
    """(holder, lease_until) on the folder's row: taken when free or run out, renewed while held."""

    def __init__(self, sessions: sessionmaker[Session], mailbox: str, holder: str, ttl: int):
        self.sessions = sessions
        self.mailbox = mailbox
        self.holder = holder
        self.ttl = timedelta(seconds=ttl)

    def acquire(self) -> bool:
        now = wall_clock()
        with self.sessions() as session:
            row = session.get(MailboxCursor, self.mailbox)
            previous = None if row is None else row.holder
        if row is None:
            try:
                with transaction(self.sessions) as session:
                    session.add(MailboxCursor(mailbox=self.mailbox, last_uid=0, holder=self.holder,
                                              lease_until=now + self.ttl))
                return True
            except sa_exc.IntegrityError:  # another process made the row first
                return False
        # one conditional UPDATE: of two processes racing for a free lease, one matches
        with transaction(self.sessions) as session:
            taken = rows_changed(session, update(MailboxCursor).where(
                MailboxCursor.mailbox == self.mailbox,
                or_(MailboxCursor.holder.is_(None), MailboxCursor.holder == self.holder,
                    MailboxCursor.lease_until.is_(None), MailboxCursor.lease_until < now))
                .values(holder=self.holder, lease_until=now + self.ttl)) == 1
        if taken and previous not in (None, self.holder):
            log.warning("IMAP %s: taking over from %s, whose lease ran out", self.mailbox, previous)
        return taken

    def renew(self) -> None:
        """Raises LeaseLost when another process holds the folder now."""
        with transaction(self.sessions) as session:
            renewed = rows_changed(session, update(MailboxCursor)
                                   .where(MailboxCursor.mailbox == self.mailbox, MailboxCursor.holder == self.holder)
                                   .values(lease_until=wall_clock() + self.ttl))
            if renewed != 1:
                raise LeaseLost(self.mailbox)

    def release(self) -> None:
        with transaction(self.sessions) as session:
            session.execute(
                update(MailboxCursor)
                .where(MailboxCursor.mailbox == self.mailbox, MailboxCursor.holder == self.holder)
                .values(holder=None, lease_until=None))

    # the cursor lives on the same row and is written only by the lease holder

    def open_cursor(self, uidvalidity: int) -> int:
        """The last UID done under this UIDVALIDITY; a new UIDVALIDITY starts a rescan from 0."""
        with transaction(self.sessions) as session:
            row = session.get(MailboxCursor, self.mailbox)
            if row is None or row.holder != self.holder:
                raise LeaseLost(self.mailbox)
            if row.uidvalidity != uidvalidity:
                if row.uidvalidity is not None:
                    log.warning("IMAP %s: UIDVALIDITY changed from %s to %s; rescanning the folder "
                                "(messages already processed are recognised as duplicates)",
                                self.mailbox, row.uidvalidity, uidvalidity)
                row.uidvalidity, row.last_uid = uidvalidity, 0
            return row.last_uid

    def advance(self, uidvalidity: int, uid: int) -> None:
        with transaction(self.sessions) as session:
            moved = rows_changed(session, update(MailboxCursor)
                                 .where(MailboxCursor.mailbox == self.mailbox, MailboxCursor.holder == self.holder,
                                        MailboxCursor.uidvalidity == uidvalidity, MailboxCursor.last_uid < uid)
                                 .values(last_uid=uid, lease_until=wall_clock() + self.ttl))
            if moved != 1:
                row = session.get(MailboxCursor, self.mailbox)
                if row is None or row.holder != self.holder or row.uidvalidity != uidvalidity:
                    raise LeaseLost(self.mailbox)


class MailboxPoller:
    """Every configured folder of the mailbox GATEWAY_IMAP_* names."""

    def __init__(self, settings: Settings, intake: Intake, sessions: sessionmaker[Session], addresses: AddressBook):
        self.settings = settings
        self.intake = intake
        self.sessions = sessions
        self.addresses = addresses
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()
        self.folders = [FolderReader(self, folder) for folder in settings.imap_folders]
        self._leasing = threading.Lock()  # held by a run of the lease job; stop() waits for it
        self._jobs: Jobs | None = None
        self._after_commit: Callable[[], object] = lambda: None

    async def start(self, jobs: Jobs, after_commit: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        self._after_commit = lambda: loop.call_soon_threadsafe(after_commit)
        self._jobs = jobs
        s = self.settings
        jobs.every_in_thread(LEASE_JOB, max(1.0, s.imap_lease / 3), self.keep_leases)
        for folder in self.folders:  # the lease job runs a folder's job at once when it takes the lease
            jobs.every_in_thread(folder.job_id, s.imap_poll_interval, folder.tick, at_once=False)
        log.info("IMAP intake from %s@%s:%s (%s), folders %s, processed mail %s", s.imap_user, s.imap_host,
                 s.imap_port, "IMAPS" if s.imap_ssl else "STARTTLS" if s.imap_starttls else "plain",
                 ", ".join(s.imap_folders),
                 f"moved to {s.imap_processed_folder}" if s.imap_processed_folder else "flagged \\Seen")

    async def stop(self) -> None:
        """Finish the message under way, log out, give up the leases."""
        self.stopping.set()
        if self._jobs is not None:
            for job_id in (LEASE_JOB, *(folder.job_id for folder in self.folders)):
                self._jobs.remove(job_id)
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        with self._leasing:  # a lease run under way could otherwise take a lease after its release
            for folder in self.folders:
                folder.close(STOP_GRACE)

    def keep_leases(self) -> None:
        """The lease job: renew the leases held, try to take the others; a folder just taken is polled at once."""
        with self._leasing:
            for folder in self.folders:
                if self.stopping.is_set():
                    return
                if folder.keep_lease() and self._jobs is not None:
                    self._jobs.run_in(folder.job_id, 0)

    def retry_in(self, folder: FolderReader, seconds: float) -> None:
        if self._jobs is not None:
            self._jobs.run_in(folder.job_id, seconds)

    def after_commit(self) -> None:
        self._after_commit()

    def status(self) -> list[dict]:
        return [folder.status.as_dict() for folder in self.folders]


class FolderReader:
    """One folder: its lease, its connection and cursor, and the mail in it through the pipeline.

    Whoever holds `busy` works the folder: a run of the folder's job, or the IDLE worker thread that
    a run started (the worker inherits `busy` and lets it go when it ends)."""

    def __init__(self, poller: MailboxPoller, folder: str):
        s = poller.settings
        self.poller = poller
        self.settings = s
        self.folder = folder
        self.mailbox = f"{s.imap_user}@{s.imap_host}:{s.imap_port}/{folder}"
        self.job_id = f"imap {self.mailbox}"
        self.lease = Lease(poller.sessions, self.mailbox, poller.holder, s.imap_lease)
        self.status = FolderStatus(self.mailbox)
        self.busy = threading.Lock()
        self.holding = False
        self.client: IMAPClient | None = None
        self.backoff = BACKOFF_START
        self.uidvalidity = 0
        self.last_uid = 0

    @property
    def stopping(self) -> threading.Event:
        return self.poller.stopping

    def _state(self, state: str, error: str | None = None) -> None:
        if state != self.status.state:
            self.status.state, self.status.since = state, wall_clock()
        if error is not None or state not in ("reconnecting", "standby"):
            self.status.last_error = error

    # --- the lease (the lease job) -------------------------------------------------------

    def keep_lease(self) -> bool:
        """Renew the lease, or take it when it is free; True when it was just taken."""
        try:
            if self.holding:
                self.lease.renew()
                return False
            self.holding = self.lease.acquire()
        except LeaseLost:
            self.holding = False  # the folder's worker or job sees this and lets go of the folder
            log.warning("IMAP %s: another gateway process holds this folder now; standing by", self.mailbox)
        except _DATABASE_ERRORS as exc:
            log.warning("IMAP %s: could not keep the lease, database unavailable (%s)", self.mailbox,
                        type(exc).__name__)
            return False
        if self.holding:
            log.info("IMAP %s: lease taken by %s", self.mailbox, self.lease.holder)
            return True
        self._state("standby")
        return False

    # --- the folder's job ------------------------------------------------------------------

    def tick(self) -> None:
        """Poll the folder, or start its IDLE worker when the server offers IDLE."""
        if self.stopping.is_set() or not self.busy.acquire(blocking=False):
            return  # stopping, or the IDLE worker has the folder
        handed_over = False
        try:
            if not self.holding:
                self._disconnect()
                return
            if self.client is None:
                self._open()
            else:
                self.client.noop()  # the server takes note of new mail
            if self.status.idle:
                threading.Thread(target=self._keep_idling, name=f"imap idle {self.folder}", daemon=True).start()
                handed_over = True
                return
            self._drain(self.client)
        except Exception as exc:
            self._failed(exc)
        finally:
            if not handed_over:
                self.busy.release()

    def _keep_idling(self) -> None:
        """The IDLE worker: drain, wait in IDLE, drain... until stopped, the lease is lost or an error."""
        try:
            while not self.stopping.is_set():
                self._drain(self.client)
                if self.stopping.is_set():
                    break
                self._idle(self.client)
        except Exception as exc:
            self._failed(exc)
        finally:
            self.busy.release()

    def _failed(self, exc: Exception) -> None:
        """Drop the connection; run the folder's job again after the back-off (or stand by)."""
        self._disconnect()
        if isinstance(exc, LeaseLost):
            if self.holding:  # found by the cursor's update rather than by the lease job, which said so
                self.holding = False
                log.warning("IMAP %s: another gateway process holds this folder now; standing by", self.mailbox)
            self._state("standby")
            return
        if self.stopping.is_set():
            return
        why = _why(exc)
        if why is None:  # a bug: log it, keep the folder going
            log.error("IMAP %s: unexpected error", self.mailbox, exc_info=exc)
            why = f"unexpected error ({_describe(exc)})"
        log.warning("IMAP %s: %s; reconnecting in %.0fs", self.mailbox, why, self.backoff)
        self._state("reconnecting", why)
        self.poller.retry_in(self, self.backoff)
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    def close(self, grace: float) -> None:
        """Wait for the message under way, log out, give up the lease."""
        if not self.busy.acquire(timeout=grace):
            log.warning("IMAP %s: still busy after %.0fs; stopping anyway (the lease runs out by itself)",
                        self.mailbox, grace)
            return
        try:
            self._disconnect()
            if self.holding:
                self.holding = False
                self.lease.release()
        except Exception as exc:
            log.warning("IMAP %s: could not release the lease (%s); it runs out by itself",
                        self.mailbox, type(exc).__name__)
        finally:
            self.busy.release()
        self._state("stopped")

    # --- the connection ----------------------------------------------------------------------

    def _open(self) -> None:
        """Connect, log in, select the folder, read the cursor; IDLE or polling from now on."""
        self._state("connecting")
        s = self.settings
        context = ssl.create_default_context(cafile=s.imap_ca_file or None)
        client = IMAPClient(s.imap_host, port=s.imap_port, ssl=s.imap_ssl, ssl_context=context,
                            timeout=SOCKET_TIMEOUT)
        self.client = client
        if not s.imap_ssl and s.imap_starttls:
            client.starttls(context)
        client.login(s.imap_user, s.imap_password)
        processed = s.imap_processed_folder
        if processed and processed != self.folder and not client.folder_exists(processed):
            try:
                client.create_folder(processed)
            except IMAPClientError:
                if not client.folder_exists(processed):  # made meanwhile by someone else is fine
                    raise
        selected = client.select_folder(self.folder)
        self.uidvalidity = int(selected[b"UIDVALIDITY"])
        self.last_uid = self.lease.open_cursor(self.uidvalidity)
        self.status.uidvalidity, self.status.last_uid = self.uidvalidity, self.last_uid
        idle = s.imap_idle and client.has_capability("IDLE")
        if idle != self.status.idle:
            log.info("IMAP %s: %s", self.mailbox, "waiting for mail with IDLE" if idle else
                     f"polling every {s.imap_poll_interval}s ({'no IDLE offered' if s.imap_idle else 'IDLE turned off'})")
        self.status.idle = idle
        if self.backoff > BACKOFF_START or self.status.last_error:
            log.info("IMAP %s: connected again", self.mailbox)
        self.backoff = BACKOFF_START
        self.status.last_error = None

    def _disconnect(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            try:
                client.shutdown()
            except Exception:
                pass

    # --- reading -----------------------------------------------------------------------

    def _new_uids(self, client: IMAPClient) -> list[int]:
        # "n:*" always matches the newest message, even below n: keep only what is past the cursor
        return sorted(uid for uid in client.search(["UID", f"{self.last_uid + 1}:*"]) if uid > self.last_uid)

    def _drain(self, client: IMAPClient) -> None:
        while not self.stopping.is_set():
            if not self.holding:
                raise LeaseLost(self.mailbox)
            uids = self._new_uids(client)
            if not uids:
                if _announced_meanwhile(client):
                    continue  # the server told of new mail along with another reply: look again
                self._state("idle" if self.status.idle else "polling")
                return
            self._state("processing")
            for batch in _chunks(uids, BATCH):
                if self.stopping.is_set() or not self.holding:
                    break
                self._batch(client, batch)

    def _batch(self, client: IMAPClient, batch: list[int]) -> None:
        sizes = client.fetch(batch, ["RFC822.SIZE"])
        limit = self.settings.max_message_bytes
        wanted = [uid for uid in batch if uid in sizes and sizes[uid].get(b"RFC822.SIZE", 0) <= limit]
        for uid in batch:
            if uid in sizes and uid not in wanted:
                log.error("IMAP %s: UID %s is %s bytes, over the %s-byte limit; left in the folder for staff",
                          self.mailbox, uid, sizes[uid].get(b"RFC822.SIZE"), limit)
        fetched = client.fetch(wanted, ["BODY.PEEK[]"]) if wanted else {}
        finished = {uid for uid in batch if uid not in wanted}  # too large: left for staff
        done: list[int] = []
        try:
            for uid in wanted:
                if self.stopping.is_set() or not self.holding:
                    break
                data = fetched.get(uid)
                if data is not None and b"BODY[]" in data:
                    self._process(uid, bytes(data[b"BODY[]"]))
                    done.append(uid)
                finished.add(uid)  # processed, or expunged by someone else meanwhile
        finally:
            if done:  # every one of them has its outcome committed
                self._mark_processed(client, done)
        last = self.last_uid
        for uid in batch:  # the cursor moves past a UID only when every UID up to it is finished
            if uid not in finished:
                break
            last = uid
        if last > self.last_uid:
            self.lease.advance(self.uidvalidity, last)
            self.last_uid = self.status.last_uid = last

    def _process(self, uid: int, raw: bytes) -> None:
        arrival = arrival_for(raw, self.poller.addresses)
        decisions = self.poller.intake.process(raw, arrival)  # commits; StorageUnavailable goes up
        self.poller.after_commit()
        self.status.processed += 1
        log.info("IMAP %s: UID %s from %s to %s: %s", self.mailbox, uid, redact(arrival.sender or "?"),
                 ", ".join(redact(r.address) for r in arrival.recipients),
                 "; ".join(f"{d.outcome.value}" + (f" ({d.reason})" if d.outcome == Outcome.REFUSED else "")
                           for d in decisions))

    def _mark_processed(self, client: IMAPClient, uids: list[int]) -> None:
        """Only called once every one of `uids` has its outcome committed."""
        target = self.settings.imap_processed_folder
        if not target or target == self.folder:
            client.add_flags(uids, [b"\\Seen"], silent=True)
            return
        if client.has_capability("MOVE"):
            client.move(uids, target)
            return
        client.copy(uids, target)
        client.add_flags(uids, [b"\\Deleted"], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            client.expunge()

    # --- waiting -----------------------------------------------------------------------

    def _idle(self, client: IMAPClient) -> None:
        # IDLE ends after imap_poll_interval (at most IDLE_RENEW) for a safety check: a server can miss
        # a message that lands while it sets up its IDLE watch (Dovecot would notice within 30 s)
        client.idle()
        started = time.monotonic()
        renew = min(IDLE_RENEW, max(1, self.settings.imap_poll_interval))
        quick_empties = 0
        lost = False
        try:
            while not self.stopping.is_set() and time.monotonic() - started < renew:
                if not self.holding:
                    raise LeaseLost(self.mailbox)
                tick = time.monotonic()
                responses = client.idle_check(timeout=IDLE_TICK)
                if any(len(r) > 0 and r[0] == b"BYE" for r in responses):
                    lost = True
                    raise ConnectionLost("server said BYE")
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    return
                if not responses and time.monotonic() - tick < IDLE_TICK / 2:
                    # readable but nothing to read: the server closed the connection
                    quick_empties += 1
                    if quick_empties >= 3:
                        lost = True
                        raise ConnectionLost("connection closed by the server")
                else:
                    quick_empties = 0
        finally:
            if not lost:
                client.idle_done()


def _announced_meanwhile(client: IMAPClient) -> bool:
    """Whether an EXISTS came with the replies to our last commands, and empty imaplib's store of them.

    A message that arrives while a SEARCH runs can be announced in that SEARCH's reply but not be
    in its result; the IDLE that follows would then not announce it again. imaplib keeps such
    untagged replies (every EXPUNGE of every MOVE too) until the next SELECT: they are dropped here."""
    store = getattr(getattr(client, "_imap", None), "untagged_responses", None)
    if not isinstance(store, dict):
        return False
    announced = "EXISTS" in store
    store.clear()
    return announced


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _why(exc: Exception) -> str | None:
    """The log line's reason for an error the folder recovers from by reconnecting; None for a bug."""
    if isinstance(exc, LoginError):
        return f"login failed ({_describe(exc)})"
    if isinstance(exc, _DATABASE_ERRORS):
        return f"database unavailable ({type(exc).__name__})"
    if isinstance(exc, (ConnectionLost, *_NETWORK_ERRORS)):
        return f"connection lost ({_describe(exc)})"
    return None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
