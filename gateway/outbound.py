"""Delivery of outbox rows: claim due rows, re-check access, send, record; retry with back-off.

Claiming, sending and recording are three steps with no transaction open while sending. A row
stays `sending` under a lease while it is out; after a crash the lease runs out and the row is
sent again with the same Message-ID (the only case in which a copy goes twice).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import aiosmtplib
from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.access import access_of
from gateway.config import Settings
from gateway.delegates import LinkState, link_state
from gateway.deliverability import Deliverability
from parsers.addresses import AddressBook
from storage.db import transaction
from storage.models import Account, Delegate, OutboxMessage, OutboxStatus, Ticket

log = logging.getLogger(__name__)

BATCH = 50
# copies of a ticket's thread: whoever gets them must still have access when they leave
_THREAD_KINDS = {"post", "ticket_opened", "new_ticket_alert", "accepted"}


@dataclass(frozen=True)
class Copy:
    id: int
    kind: str
    recipient: str
    raw: bytes
    ticket_id: int | None
    recipient_id: int | None
    delegate_id: int | None


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


class FolderTransport:
    """No relay configured: each copy becomes an .eml file in the outbox folder."""

    def __init__(self, folder: str):
        self.folder = Path(folder)

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


class Courier:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings, addresses: AddressBook,
                 deliverability: Deliverability, clock: Callable[[], datetime], locking: bool):
        self.sessions = sessions
        self.settings = settings
        self.addresses = addresses
        self.deliverability = deliverability
        self.clock = clock
        self.locking = locking  # FOR UPDATE SKIP LOCKED (PostgreSQL)

    def transport(self):
        if self.settings.relay_configured:
            return RelayTransport(self.settings)
        return FolderTransport(self.settings.outbox_dir)

    async def deliver_due(self) -> int:
        """Send everything that is due now; returns how many copies were handed over."""
        handed = 0
        while True:
            copies = await asyncio.to_thread(self._claim)
            if not copies:
                return handed
            async with self.transport() as transport:
                for copy in copies:
                    handed += await self._deliver_one(transport, copy)

    async def _deliver_one(self, transport, copy: Copy) -> int:
        if not await asyncio.to_thread(self._still_wanted, copy):
            return 0
        try:
            await transport.send(self.addresses.bounce_address(copy.id), copy)
        except PermanentFailure as exc:
            log.warning("outbox #%s to %s refused: %s", copy.id, copy.recipient, exc)
            await asyncio.to_thread(self._record_failure, copy.id, str(exc), True)
            return 0
        except TemporaryFailure as exc:
            log.info("outbox #%s to %s deferred: %s", copy.id, copy.recipient, exc)
            await asyncio.to_thread(self._record_failure, copy.id, str(exc), False)
            return 0
        await asyncio.to_thread(self._record_sent, copy.id)
        return 1

    def _claim(self) -> list[Copy]:
        now = self.clock()
        with transaction(self.sessions) as session:
            due = (
                select(OutboxMessage)
                .where(or_(
                    (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now),
                    (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.claimed_until < now),
                ))
                .order_by(OutboxMessage.id)
                .limit(BATCH)
            )
            if self.locking:
                due = due.with_for_update(skip_locked=True)
            rows = list(session.scalars(due))
            for row in rows:
                row.status = OutboxStatus.SENDING
                row.claimed_until = now + timedelta(seconds=self.settings.delivery_lease)
            return [Copy(r.id, r.kind, r.recipient, r.raw, r.ticket_id, r.recipient_id, r.delegate_id)
                    for r in rows]

    def _still_wanted(self, copy: Copy) -> bool:
        """Access is checked again just before a copy leaves: a revoke stops what has not gone yet,
        and so does a stop on the address after bounces."""
        now = self.clock()
        with transaction(self.sessions) as session:
            wanted, why, status = True, "", OutboxStatus.CANCELLED
            stopped = self.deliverability.stopped_reason(session, copy.recipient)
            if stopped is not None:
                wanted, why, status = False, f"delivery to {copy.recipient} stopped: {stopped}", OutboxStatus.SUPPRESSED
            elif copy.kind in _THREAD_KINDS and copy.ticket_id is not None and copy.recipient_id is not None:
                ticket = session.get(Ticket, copy.ticket_id)
                account = session.get(Account, copy.recipient_id)
                wanted = ticket is not None and account is not None and access_of(session, ticket, account, now).allowed
                why = "recipient no longer has access"
            elif copy.kind == "invite" and copy.delegate_id is not None:
                delegate = session.get(Delegate, copy.delegate_id)
                wanted = link_state(delegate, now) == LinkState.VALID
                why = "invitation no longer open"
            if not wanted:
                session.execute(update(OutboxMessage)
                                .where(OutboxMessage.id == copy.id, OutboxMessage.status == OutboxStatus.SENDING)
                                .values(status=status, last_error=why[:2000]))
            return wanted

    def _record_sent(self, outbox_id: int) -> None:
        now = self.clock()
        with transaction(self.sessions) as session:
            # a bounce may come back before this record of the relay's 250 does: it stays bounced
            status = case((OutboxMessage.status == OutboxStatus.BOUNCED, OutboxStatus.BOUNCED), else_=OutboxStatus.SENT)
            session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(
                status=status, sent_at=now, claimed_until=None,
                attempts=OutboxMessage.attempts + 1, last_error=None))

    def _record_failure(self, outbox_id: int, error: str, permanent: bool) -> None:
        now = self.clock()
        schedule = self.settings.retry_schedule
        with transaction(self.sessions) as session:
            row = session.get(OutboxMessage, outbox_id)
            if row is None:
                return
            row.attempts += 1
            row.last_error = error[:2000]
            row.claimed_until = None
            if permanent or row.attempts > len(schedule):
                row.status = OutboxStatus.FAILED
            else:
                row.status = OutboxStatus.PENDING
                row.next_attempt_at = now + timedelta(seconds=schedule[row.attempts - 1])
