"""What the CLI's --json and the HTTP API show of tickets and delegates: one shape for both."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.domain.delegates import delegates_of, shown_status
from gateway.domain.tickets import posts_of
from storage.models import Delegate, Ticket


def when(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def ticket_view(session: Session, ticket: Ticket, now: datetime) -> dict:
    return {
        "number": ticket.id, "subject": ticket.subject, "status": ticket.status.value,
        "owner": ticket.owner.email, "creator": ticket.creator.email, "created_at": when(ticket.created_at),
        "delegates": [{"email": d.account.email, "name": d.account.name, "status": shown_status(d, now)}
                      for d in delegates_of(session, ticket, now)],
        "posts": [{"author": p.author.email, "body": p.body, "html": p.html, "source": p.source.value,
                   "created_at": when(p.created_at),
                   "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size,
                                    "content_id": a.content_id} for a in p.attachments]}
                  for p in posts_of(session, ticket)],
    }


def delegate_view(delegate: Delegate, now: datetime) -> dict:
    return {"email": delegate.account.email, "name": delegate.account.name, "status": shown_status(delegate, now),
            "invited_by": delegate.invited_by.email, "invited_at": when(delegate.invited_at),
            "accepted_at": when(delegate.accepted_at), "ended_at": when(delegate.ended_at)}
