"""The loop breaker: too many posts from one sender, or to one ticket, in a short window are held.

Every post and new ticket leaves a LoopEvent; so does every message the breaker holds, marked held.
Held events never count toward a limit (a hold must not extend itself): they only tell whether
staff were already told of this hold. A sender is counted apart by how they proved who they are:
`proven` is mail to a reply or invite address of their own, which only they hold; mail to the
support address proves nothing (anyone can write a From), so forgeries in a customer's name can
hold only more unproven mail, never the customer's replies.

A check reads at most limit + 1 events through an index, however busy the window was; events older
than the window are pruned by the expiry job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from typing import cast

from sqlalchemy import Table, bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from gateway.config import Settings
from storage.db import rows_changed
from storage.models import LoopEvent


@dataclass(frozen=True)
class Event:
    ticket_id: int | None
    proven: bool
    held: bool


@dataclass(frozen=True)
class Hold:
    """The breaker keeps a message back for staff to look at (recorded, answered 250, not posted)."""

    reason: str
    first: bool  # the first message held in this window: staff are told once


class LoopBreaker:
    def __init__(self, settings: Settings):
        self.window = settings.loop_window
        self.sender_limit = settings.loop_sender_limit
        self.ticket_limit = settings.loop_ticket_limit
        # built once: it runs for every post, and building a statement costs more than running it here
        by_sender = (LoopEvent.sender == bindparam("sender"), LoopEvent.proven == bindparam("proven"))
        by_ticket = (LoopEvent.ticket_id == bindparam("ticket_id"),)
        self._recent = select(_count(by_sender, held=False, limit=self.sender_limit + 1),
                              _count(by_ticket, held=False, limit=self.ticket_limit + 1))
        self._told = select(_count(by_sender, held=True, limit=1), _count(by_ticket, held=True, limit=1))

    def check(self, session: Session, sender: str, proven: bool, ticket_id: int | None, now: datetime) -> Hold | None:
        """A Hold when the sender, or the ticket, is at its limit (one statement for both)."""
        values = {"sender": sender, "proven": proven, "ticket_id": ticket_id,
                  "since": now - timedelta(seconds=self.window)}
        by_sender, by_ticket = session.execute(self._recent, values).one()
        limits = [(by_sender, self.sender_limit, f"from {sender}", 0)]
        if ticket_id is not None:
            limits.append((by_ticket, self.ticket_limit, f"to ticket #{ticket_id}", 1))
        for seen, limit, what, told_column in limits:
            if seen >= limit:
                told = session.execute(self._told, values).one()[told_column]
                return Hold(f"held by the loop breaker: {seen if seen == limit else f'over {limit}'} messages {what} "
                            f"in the last {self.window // 60} minutes (limit {limit}); kept for staff to look at",
                            first=not told)
        return None

    @staticmethod
    def count(session: Session, sender: str | None, events: list[Event], now: datetime) -> None:
        """One row per post, new ticket or held message that `sender` caused."""
        if sender is not None and events:
            session.execute(insert(cast(Table, LoopEvent.__table__)),
                            [{"sender": sender, "ticket_id": e.ticket_id, "proven": e.proven, "held": e.held,
                              "at": now} for e in events])

    def prune(self, session: Session, now: datetime) -> int:
        return rows_changed(session, delete(LoopEvent).where(LoopEvent.at < now - timedelta(seconds=self.window)))


def _count(match, held: bool, limit: int):
    """How many events matching `match` (held or not) since a time, counting no further than limit."""
    recent = (select(LoopEvent.id).where(*match, LoopEvent.held == held, LoopEvent.at >= bindparam("since"))
              .limit(limit).subquery())
    return select(func.count()).select_from(recent).scalar_subquery()
