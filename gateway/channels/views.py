"""What the CLI's --json and the HTTP API show of tickets, delegates, inbound messages and outbox
copies: one shape for both."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.delegates import delegates_of, shown_status
from gateway.domain.tickets import posts_of
from storage.models import Delegate, InboundMessage, OutboxMessage, Post, Ticket


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


_SHOWN_HEADERS = ("From", "To", "Subject", "Date", "Message-ID")


def inbound_view(session: Session, inbound: InboundMessage) -> dict:
    """One stored message for staff: its headers, channel, each recipient's outcome, and for what it
    posted the post's text next to what was trimmed off it."""
    headers = _headers(inbound.raw)
    posts = session.scalars(select(Post).where(Post.inbound_id == inbound.id).order_by(Post.id)).all()
    return {
        "id": inbound.id, "received_at": when(inbound.received_at), "channel": inbound.channel,
        "envelope_sender": inbound.envelope_sender, "message_id": inbound.message_id, "sender": inbound.sender,
        "headers": {name: headers.get(name) for name in _SHOWN_HEADERS} if headers is not None
        else {"From": inbound.sender, "Subject": inbound.subject, "Message-ID": inbound.message_id},
        "raw_purged": not inbound.raw, "raw_bytes": len(inbound.raw),
        "outcomes": [{"recipient": o.recipient, "outcome": o.outcome.value, "reason": o.reason,
                      "ticket": o.ticket_id} for o in inbound.outcomes],
        "posts": [{"post": p.id, "ticket": p.ticket_id, "body": p.body, "trimmed": p.trimmed} for p in posts],
    }


def _headers(raw: bytes) -> dict[str, str] | None:
    from parsers.mime import MalformedMessage, parse_message  # only `inbound show` needs the MIME parser

    if not raw:
        return None
    try:
        mail = parse_message(raw)
    except MalformedMessage:
        return {}
    return {name: value for name in _SHOWN_HEADERS if (value := mail.headers.get(name)) is not None}


def outbox_view(copy: OutboxMessage) -> dict:
    return {"id": copy.id, "kind": copy.kind, "ticket": copy.ticket_id, "recipient": copy.recipient,
            "status": copy.status.value, "attempts": copy.attempts, "next_attempt_at": when(copy.next_attempt_at),
            "sent_at": when(copy.sent_at), "last_error": copy.last_error}
