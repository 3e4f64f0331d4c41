"""The loop breaker: too many posts from one sender, or to one ticket, in a short window are held.

Every post, new ticket and held message leaves a LoopEvent. A check reads at most limit + 1 of the
sender's (or ticket's) events through an index, however busy the window was; events older than the
window are pruned by the expiry job.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.errors import Held
from storage.models import LoopEvent


class LoopBreaker:
    def __init__(self, settings: Settings):
        self.window = settings.loop_window
        self.sender_limit = settings.loop_sender_limit
        self.ticket_limit = settings.loop_ticket_limit
        # built once: it runs for every post, and building a statement costs more than running it here
        self._recent = select(_recent(LoopEvent.sender, self.sender_limit),
                              _recent(LoopEvent.ticket_id, self.ticket_limit, "ticket_id"))

    def check(self, session: Session, sender: str, ticket_id: int | None, now: datetime) -> None:
        """Raises Held when the sender, or the ticket, is at its limit (one statement for both)."""
        since = now - timedelta(seconds=self.window)
        by_sender, by_ticket = session.execute(self._recent, {"sender": sender, "ticket_id": ticket_id,
                                                              "since": since}).one()
        limits = [(by_sender or 0, self.sender_limit, f"from {sender}")]
        if ticket_id is not None:
            limits.append((by_ticket or 0, self.ticket_limit, f"to ticket #{ticket_id}"))
        for seen, limit, what in limits:
            if seen >= limit:
                raise Held(f"held by the loop breaker: {seen if seen == limit else f'over {limit}'} messages {what} "
                           f"in the last {self.window // 60} minutes (limit {limit}); kept for staff to look at",
                           first=seen == limit)

    @staticmethod
    def count(session: Session, sender: str | None, ticket_ids: list[int | None], now: datetime) -> None:
        """One event per post, new ticket or held message that `sender` caused."""
        if sender is not None and ticket_ids:
            session.execute(insert(LoopEvent.__table__), [{"sender": sender, "ticket_id": t, "at": now}
                                                           for t in ticket_ids])

    def prune(self, session: Session, now: datetime) -> int:
        return session.execute(delete(LoopEvent).where(LoopEvent.at < now - timedelta(seconds=self.window))).rowcount


def _recent(column, limit: int, whose: str = "sender"):
    """How many events of one sender or ticket since a time, counting no further than limit + 1."""
    recent = (select(LoopEvent.id).where(column == bindparam(whose), LoopEvent.at >= bindparam("since"))
              .limit(limit + 1).subquery())
    return select(func.count()).select_from(recent).scalar_subquery()
