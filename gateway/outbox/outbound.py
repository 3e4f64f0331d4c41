"""Delivery of outbox rows over several relay connections at once; retry with back-off.

Each connection works in batches: claim due rows and re-check access for all of them (one query),
render them (gateway.outbox.letters), send them over the one connection, record them (one statement). No
transaction is open while sending. A claimed row stays `sending` under a short lease that its process
renews while it lives; after a crash the lease runs out within seconds and the row is sent again,
with the same Message-ID: only copies between the relay's 250 and their batch's record go twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import aiosmtplib
from sqlalchemy import case, exists, func, literal_column, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import Settings
from gateway.domain.access import allowed_in_sql
from gateway.outbox.kinds import names
from gateway.outbox.letters import ROW_COLUMNS, Copy, Letters
from parsers.addresses import AddressBook
from storage.db import transaction
from storage.models import Account, Delegate, DeliveryStop, OutboxMessage, OutboxStatus, Ticket

log = logging.getLogger(__name__)

BATCH = 50  # copies one connection claims, checks and renders together
GATHER_SECONDS = 0.02  # how long the record waits for more copies before it is written
UNRECORDED = 50  # copies the relay took that may wait for their record (they would go again after a crash)
_THREAD_KINDS = names(lambda kind: kind.shows_thread)
_INVITATION_KINDS = names(lambda kind: kind.while_invited)
_OUT = OutboxMessage


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


class FolderTransport:
    """No relay configured: each copy becomes an .eml file in the outbox folder."""

    def __init__(self, folder: str):
        self.folder = Path(folder)
        self.where = f"folder {folder}"  # for the log

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    async def send(self, sender: str, copy: Copy) -> None:
        await asyncio.to_thread(self._write, sender, copy)

    def _write(self, sender: str, copy: Copy) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{copy.id:010d}-{copy.kind}.eml"
        temp = final.with_suffix(".tmp")
        with open(temp, "wb") as handle:
            handle.write(f"Return-Path: <{sender}>\r\n".encode())
            handle.write(copy.raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)


class RelayTransport:
    """One SMTP connection to the relay for a batch, reopened when it drops."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.where = f"relay {settings.relay_host}:{settings.relay_port}"  # for the log
        self._smtp: aiosmtplib.SMTP | None = None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        if self._smtp is not None and self._smtp.is_connected:
            try:
                await self._smtp.quit()
            except aiosmtplib.SMTPException:
                self._smtp.close()
        return False

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._smtp is None or not self._smtp.is_connected:
            s = self.settings
            self._smtp = aiosmtplib.SMTP(hostname=s.relay_host, port=s.relay_port, timeout=60,
                                         start_tls=s.relay_starttls or None)
            await self._smtp.connect()
            if s.relay_username:
                await self._smtp.login(s.relay_username, s.relay_password)
        return self._smtp

    async def send(self, sender: str, copy: Copy) -> None:
        try:
            smtp = await self._connection()
            await smtp.sendmail(sender, [copy.recipient], copy.raw)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            error = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise (PermanentFailure if all(c >= 500 for c in codes) else TemporaryFailure)(error) from exc
        except aiosmtplib.SMTPResponseException as exc:
            error = f"{exc.code} {exc.message}"
            raise (PermanentFailure if exc.code >= 500 else TemporaryFailure)(error) from exc
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            if self._smtp is not None:
                self._smtp.close()
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc


class _Ledger:
    """What the relay said, written down by one recorder for all connections, many rows a statement.

    A copy that the relay took but that is not yet recorded goes again after a crash, so at most
    UNRECORDED such copies may wait: the connections pause until the record catches up."""

    def __init__(self, record: Callable[[list[int], list[tuple[Copy, str, bool]]], None]):
        self._record = record
        self._sent: list[int] = []
        self._failures: list[tuple[Copy, str, bool]] = []
        self._writing = 0
        self._changed = asyncio.Condition()
        self._closed = False

    async def sent(self, copy: Copy) -> None:
        async with self._changed:
            self._sent.append(copy.id)
            self._changed.notify_all()

    async def failed(self, copy: Copy, error: str, permanent: bool) -> None:
        async with self._changed:
            self._failures.append((copy, error, permanent))
            self._changed.notify_all()

    async def room(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._sent) + self._writing < UNRECORDED)

    async def close(self) -> None:
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    async def run(self) -> None:
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: self._sent or self._failures or self._closed)
                # a moment for more to come: one statement (and one commit) for many copies
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(
                        lambda: len(self._sent) >= UNRECORDED // 2 or self._closed), GATHER_SECONDS)
                sent, self._sent = self._sent, []
                failures, self._failures = self._failures, []
                self._writing = len(sent)
            if not sent and not failures:
                return  # closed, and everything is written
            try:
                await asyncio.to_thread(self._record, sent, failures)
            except Exception:
                # the rows stay `sending` under their lease and go again later: a duplicate, never a loss
                log.exception("recording %d sent copies failed", len(sent))
            async with self._changed:
                self._writing = 0
                self._changed.notify_all()


class Courier:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings, addresses: AddressBook,
                 letters: Letters, clock: Callable[[], datetime], locking: bool):
        self.sessions = sessions
        self.settings = settings
        self.addresses = addresses
        self.letters = letters
        self.clock = clock
        self.locking = locking  # FOR UPDATE SKIP LOCKED (PostgreSQL): processes share the outbox
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[:100]

    def transport(self):
        if self.settings.relay_configured:
            return RelayTransport(self.settings)
        return FolderTransport(self.settings.outbox_dir)

    async def deliver_due(self) -> int:
        """Send everything that is due now; returns how many copies were handed over."""
        ledger = _Ledger(self._record)
        recorder = asyncio.create_task(ledger.run())
        keeper = asyncio.create_task(self._keep_leases())
        try:
            results = await asyncio.gather(*(self._connection_worker(ledger)
                                             for _ in range(self.settings.relay_connections)),
                                           return_exceptions=True)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await ledger.close()
            await recorder
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return sum(r for r in results if isinstance(r, int))

    async def _connection_worker(self, ledger: "_Ledger") -> int:
        handed = 0
        async with self.transport() as transport:
            while True:
                copies = await asyncio.to_thread(self._claim)
                if not copies:
                    return handed
                for copy in copies:
                    await ledger.room()
                    try:
                        await transport.send(self.addresses.bounce_address(copy.id), copy)
                    except PermanentFailure as exc:
                        log.warning("outbox #%s to %s refused: %s", copy.id, copy.recipient, exc)
                        await ledger.failed(copy, str(exc), permanent=True)
                    except TemporaryFailure as exc:
                        log.info("outbox #%s to %s deferred: %s", copy.id, copy.recipient, exc)
                        await ledger.failed(copy, str(exc), permanent=False)
                    else:
                        log.info("outbox #%s (%s) to %s handed to %s", copy.id, copy.kind, copy.recipient,
                                 transport.where)
                        await ledger.sent(copy)
                        handed += 1

    async def _keep_leases(self) -> None:
        """While this process lives, the copies it holds stay its own."""
        while True:
            await asyncio.sleep(self.settings.delivery_lease / 3)
            await asyncio.to_thread(self._renew_leases)

    def _renew_leases(self) -> None:
        with transaction(self.sessions) as session:
            session.execute(update(_OUT).where(_OUT.status == literal_column("'sending'"), _OUT.claimed_by == self.holder)
                            .values(claimed_until=self.clock() + timedelta(seconds=self.settings.delivery_lease))
                            .execution_options(synchronize_session=False))

    # --- claim: due rows, still wanted, rendered -------------------------------------------

    def _claim(self) -> list[Copy]:
        now = self.clock()
        with transaction(self.sessions) as session:
            rows = self._due(session, now, _OUT.status == literal_column("'sending'"), _OUT.claimed_until < now,
                             _OUT.claimed_until, BATCH)
            if len(rows) < BATCH:
                rows += self._due(session, now, _OUT.status == literal_column("'pending'"), _OUT.next_attempt_at <= now,
                                  _OUT.next_attempt_at, BATCH - len(rows))
            wanted = [r for r in rows if r.wanted and r.stopped is None]
            for r in rows:
                if r.stopped is not None:
                    self._drop(session, r.id, OutboxStatus.SUPPRESSED, f"delivery to {r.recipient} stopped: {r.stopped}")
                elif not r.wanted:
                    why = "invitation no longer open" if r.kind in _INVITATION_KINDS else "recipient no longer has access"
                    self._drop(session, r.id, OutboxStatus.CANCELLED, why)
            if not wanted:
                return []
            session.execute(update(_OUT).where(_OUT.id.in_([r.id for r in wanted])).values(
                status=OutboxStatus.SENDING, claimed_by=self.holder,
                claimed_until=now + timedelta(seconds=self.settings.delivery_lease),
            ).execution_options(synchronize_session=False))
            copies, unsendable = self.letters.compose(session, wanted)
            for outbox_id, error in unsendable:
                self._drop(session, outbox_id, OutboxStatus.FAILED, error)
            return copies

    def _due(self, session: Session, now: datetime, state, due, order, limit: int) -> list:
        """Rows in `state` that are `due`, locked for this process (skipping rows others hold), each
        with whether it is still wanted: access is checked again just before a copy leaves, so a revoke
        stops what has not gone yet, and so does a stop on the address after bounces."""
        has_access = allowed_in_sql(_OUT.ticket_id, Ticket.owner_id, _OUT.recipient_id, Account.role)
        invitation_open = exists().where(Delegate.id == _OUT.delegate_id, Delegate.invitation_open(now))
        wanted = case(
            (_OUT.kind.in_(_THREAD_KINDS) & _OUT.ticket_id.is_not(None) & _OUT.recipient_id.is_not(None), has_access),
            (_OUT.kind.in_(_INVITATION_KINDS), invitation_open),
            else_=True,
        )
        query = (
            select(*ROW_COLUMNS, wanted.label("wanted"), DeliveryStop.reason.label("stopped"))
            .outerjoin(Ticket, Ticket.id == _OUT.ticket_id)
            .outerjoin(Account, Account.id == _OUT.recipient_id)
            .outerjoin(DeliveryStop, (DeliveryStop.address == func.lower(_OUT.recipient))
                       & DeliveryStop.stopped_at.is_not(None))
            .where(state, due)
            .order_by(order)
            .limit(limit)
        )
        if self.locking:
            query = query.with_for_update(skip_locked=True, of=_OUT)
        return list(session.execute(query))

    @staticmethod
    def _drop(session: Session, outbox_id: int, status: OutboxStatus, why: str) -> None:
        session.execute(update(_OUT).where(_OUT.id == outbox_id)
                        .values(status=status, last_error=why[:2000], claimed_until=None, claimed_by=None))

    # --- record what the relay said ------------------------------------------------------

    def _record(self, sent: list[int], failures: list[tuple[Copy, str, bool]]) -> None:
        now = self.clock()
        schedule = self.settings.retry_schedule
        with transaction(self.sessions) as session:
            if sent:
                # a bounce may come back before this record of the relay's 250 does: it stays bounced
                status = case((_OUT.status == OutboxStatus.BOUNCED, OutboxStatus.BOUNCED), else_=OutboxStatus.SENT)
                session.execute(update(_OUT).where(_OUT.id.in_(sent)).values(
                    status=status, sent_at=now, claimed_until=None,
                    attempts=_OUT.attempts + 1, last_error=None).execution_options(synchronize_session=False))
            for copy, error, permanent in failures:
                row = session.get(_OUT, copy.id)
                if row is None:
                    continue
                row.attempts += 1
                row.last_error = error[:2000]
                row.claimed_until, row.claimed_by = None, None
                if permanent or row.attempts > len(schedule):
                    row.status = OutboxStatus.FAILED
                else:
                    row.status = OutboxStatus.PENDING
                    row.next_attempt_at = now + timedelta(seconds=schedule[row.attempts - 1])
