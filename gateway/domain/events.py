"""What the domain did that others hear of: each event goes at once to the `Events` the caller passed
(the outbox turns it into the mail it means), in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from storage.models import Delegate, Post, Ticket


@dataclass(frozen=True)
class TicketOpened:
    ticket: Ticket
    post: Post  # the first


@dataclass(frozen=True)
class PostAdded:
    ticket: Ticket
    post: Post


@dataclass(frozen=True)
class Invited:
    delegate: Delegate


@dataclass(frozen=True)
class Accepted:
    delegate: Delegate
    last_post: Post | None  # the thread as it stood when they accepted ends here


@dataclass(frozen=True)
class Revoked:
    delegate: Delegate  # what has not yet gone to them must not go


Event = TicketOpened | PostAdded | Invited | Accepted | Revoked


class Events(Protocol):
    def record(self, session: Session, event: Event) -> None:
        """Act on `event` now, in `session`'s current savepoint: rolling that back undoes what it did."""
