"""A post -> one outbox row per person in its audience (gateway.domain.access), in the post's transaction
(one statement)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, bindparam, cast, insert, literal, select
from sqlalchemy.orm import Session

from gateway.domain.access import in_audience
from storage.models import Account, OutboxMessage, OutboxStatus, Post, Ticket


def _copies_for_everyone_but_the_author():
    """INSERT ... SELECT: one outbox row per person with access except the post's author. Built once
    (it runs for every post). A Message-ID is a prefix and a suffix around the recipient's id."""
    people = select(Account.id, Account.email).where(
        in_audience(bindparam("ticket_id"), bindparam("owner_id"), bindparam("creator_id")),
        Account.id != bindparam("author_id")).subquery()
    at = bindparam("now", type_=OutboxMessage.created_at.type)
    message_id = bindparam("id_prefix", type_=String) + cast(people.c.id, String) + bindparam("id_suffix", type_=String)
    return insert(OutboxMessage.__table__).from_select(
        ["kind", "ticket_id", "post_id", "recipient_id", "recipient", "message_id", "status", "attempts",
         "created_at", "next_attempt_at"],
        select(bindparam("kind", type_=String), bindparam("ticket_id"), bindparam("post_id"), people.c.id,
               people.c.email, message_id, literal(OutboxStatus.PENDING.value), literal(0), at, at),
    )


_COPIES = _copies_for_everyone_but_the_author()


def fan_out(session: Session, ticket: Ticket, post: Post, *, kind: str, message_ids: tuple[str, str],
            now: datetime) -> None:
    """Queue the post for everyone with access except its author, in one statement. Each copy's
    Message-ID is its recipient's id between the two parts of `message_ids`."""
    prefix, suffix = message_ids
    session.execute(_COPIES, {
        "kind": kind, "ticket_id": ticket.id, "owner_id": ticket.owner_id, "creator_id": ticket.creator_id,
        "author_id": post.author_id, "post_id": post.id, "now": now, "id_prefix": prefix, "id_suffix": suffix,
    })
