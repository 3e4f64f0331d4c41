"""Delivery state per address: bounces stop delivery to an address that cannot receive mail.

A hard bounce (no such address or domain, mailbox disabled) stops delivery at once; soft
bounces (mailbox full, a policy refusal, a failure that names no cause) stop it when
`soft_bounce_limit` different copies bounced within `soft_bounce_window`. Delay warnings and
feedback reports stop nothing.

Only bounces that came back to a copy's own VERP address count: its token is a MAC, so
nobody can name someone else's copy, while an unsigned report that merely names an address
could be forged to silence that person. A relay's own refusal fails that one copy and stops
nothing: a misconfigured relay ("relaying denied") would otherwise stop every address.

When an address stops, the staff who took part in the ticket of the bounced copy are told,
once. From then on the courier suppresses every copy to it (status `suppressed`) until staff
resume it (`gateway account resume`); bounces before the resume no longer count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.domain.accounts import accounts_with_roles
from gateway.config import Settings
from gateway.domain.errors import Reason, Refused
from gateway.domain.access import staff_on
from gateway.outbox.queue import Outbox
from parsers.addresses import normalize
from storage.models import Account, Bounce, BounceSeverity, DeliveryStop, OutboxMessage, OutboxStatus, Role, Ticket

log = logging.getLogger(__name__)

# Enhanced status codes (RFC 3463) and SMTP codes that say the address itself is wrong.
_HARD_PREFIXES = ("5.1.", "5.2.1", "5.4.4", "5.0.0")
_HARD_CODES = ("550", "551", "553")


def severity_of(status: str | None) -> BounceSeverity:
    """Hard only when the report says the address is bad; anything else may pass."""
    if status is not None and (status.startswith(_HARD_PREFIXES) or status in _HARD_CODES):
        return BounceSeverity.HARD
    return BounceSeverity.SOFT


@dataclass(frozen=True)
class DeliveryState:
    address: str
    stopped_at: datetime | None
    reason: str | None
    soft_bounces: int  # counted towards a stop: since the window began or the last resume
    bounces: list[Bounce]  # the most recent first

    @property
    def label(self) -> str:
        return _label(self.stopped_at is not None, self.soft_bounces)


class Deliverability:
    def __init__(self, outbox: Outbox, settings: Settings):
        self.outbox = outbox
        self.settings = settings

    def bounced(self, session: Session, row: OutboxMessage, status: str | None, reason: str, now: datetime,
                inbound_id: int) -> None:
        """A copy bounced: the row says so (unless it was never sent), and so does its address's record."""
        if row.status in (OutboxStatus.SENT, OutboxStatus.SENDING):
            row.status = OutboxStatus.BOUNCED
            row.last_error = reason
        self._record(session, row.recipient, status, reason, now, outbox_id=row.id, ticket_id=row.ticket_id,
                     inbound_id=inbound_id)

    def _record(self, session: Session, address: str, status: str | None, reason: str, now: datetime, *,
                outbox_id: int, ticket_id: int | None, inbound_id: int) -> Bounce:
        """Records one bounce of a copy to `address`; stops delivery when it tips the balance."""
        address = normalize(address)
        bounce = Bounce(address=address, severity=severity_of(status), status=status, reason=reason[:2000],
                        at=now, outbox_id=outbox_id, inbound_id=inbound_id, ticket_id=ticket_id)
        session.add(bounce)
        session.flush()
        stop = session.get(DeliveryStop, address)
        if stop is not None and stop.stopped_at is not None:
            return bounce
        if bounce.severity == BounceSeverity.HARD:
            why = f"hard bounce ({status}): {reason}"
        else:
            soft = self._soft_counts(session, now, address).get(address, 0)
            if soft < self.settings.soft_bounce_limit:
                return bounce
            why = f"{soft} soft bounces within {_days(self.settings.soft_bounce_window)}; the last: {reason}"
        self._stop(session, stop, address, why, now)
        self._tell_staff(session, ticket_id, address, why)
        return bounce

    def resume(self, session: Session, account: Account, by: Account, now: datetime) -> None:
        if not by.role.is_staff:
            raise Refused(Reason.NOT_STAFF, f"{by.email} is not staff; only staff can resume delivery.")
        stop = session.get(DeliveryStop, account.email)
        if stop is None or stop.stopped_at is None:
            raise Refused(Reason.INVALID_INPUT, f"Delivery to {account.email} is not stopped.")
        stop.stopped_at, stop.reason, stop.resumed_at, stop.resumed_by_id = None, None, now, by.id

    def state(self, session: Session, address: str, now: datetime, recent: int = 10) -> DeliveryState:
        address = normalize(address)
        stop = session.get(DeliveryStop, address)
        bounces = list(session.scalars(select(Bounce).where(Bounce.address == address)
                                       .order_by(Bounce.at.desc(), Bounce.id.desc()).limit(recent)))
        stopped = stop if stop is not None and stop.stopped_at is not None else None
        return DeliveryState(address, stopped.stopped_at if stopped else None, stopped.reason if stopped else None,
                             self._soft_counts(session, now, address).get(address, 0), bounces)

    def labels(self, session: Session, now: datetime) -> dict[str, str]:
        """Every address that is not simply "ok", with its label (DeliveryState.label)."""
        labels = {a: _label(False, n) for a, n in self._soft_counts(session, now).items()}
        stopped = session.scalars(select(DeliveryStop.address).where(DeliveryStop.stopped_at.is_not(None)))
        labels.update({a: _label(True, 0) for a in stopped})
        return labels

    def _soft_counts(self, session: Session, now: datetime, address: str | None = None) -> dict[str, int]:
        """Soft bounces that count towards a stop, per address (or for one): different copies,
        within the window, and since the last resume."""
        since = now - timedelta(seconds=self.settings.soft_bounce_window)
        query = (select(Bounce.address, func.count(func.distinct(Bounce.outbox_id)))
                 .outerjoin(DeliveryStop, DeliveryStop.address == Bounce.address)
                 .where(Bounce.severity == BounceSeverity.SOFT, Bounce.at >= since,
                        DeliveryStop.resumed_at.is_(None) | (Bounce.at >= DeliveryStop.resumed_at))
                 .group_by(Bounce.address))
        if address is not None:
            query = query.where(Bounce.address == address)
        return dict(session.execute(query).all())

    @staticmethod
    def _stop(session: Session, stop: DeliveryStop | None, address: str, why: str, now: datetime) -> None:
        if stop is None:
            try:
                with session.begin_nested():
                    stop = DeliveryStop(address=address)
                    session.add(stop)
                    session.flush()
            except sa_exc.IntegrityError:  # another transaction made the row first
                stop = session.get_one(DeliveryStop, address, populate_existing=True)
        stop.stopped_at, stop.reason = now, why[:2000]
        log.warning("delivery to %s stopped: %s", address, why)

    def _tell_staff(self, session: Session, ticket_id: int | None, address: str, why: str) -> None:
        """The staff who took part in the ticket; when none has yet, the admins."""
        ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
        if ticket is None:
            return
        staff = staff_on(session, ticket) or accounts_with_roles(session, (Role.ADMIN,))
        for person in staff:
            if person.email != address:
                self.outbox.delivery_stopped(session, ticket, person, address, why)


def _label(stopped: bool, soft_bounces: int) -> str:
    if stopped:
        return "stopped"
    return f"{soft_bounces} soft bounce{'s' * (soft_bounces != 1)}" if soft_bounces else "ok"


def _days(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day{'s' * (seconds != 86400)}"
    return f"{seconds // 3600} hours" if seconds % 3600 == 0 else f"{seconds} seconds"
