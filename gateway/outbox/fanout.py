"""A post -> one outbox row per person with access, in the same transaction as the post (one statement)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, bindparam, cast, insert, literal, select
from sqlalchemy.orm import Session

from storage.models import Account, Delegate, DelegateStatus, OutboxMessage, OutboxStatus, Post, Role, Ticket


def _with_access(ticket_id, owner_id, creator_id):
    """The owner, every accepted delegate, and the staff who took part (created, posted, invited)."""
    staff_roles = (Role.STAFF, Role.ADMIN)
    delegates = select(Delegate.account_id).where(
        Delegate.ticket_id == ticket_id, Delegate.status == DelegateStatus.ACCEPTED)
    posters = select(Post.author_id).where(Post.ticket_id == ticket_id)
    inviters = select(Delegate.invited_by_id).where(Delegate.ticket_id == ticket_id)
    staff_ids = posters.union(inviters).scalar_subquery()
    return ((Account.id == owner_id)
            | Account.id.in_(delegates)
            | ((Account.id == creator_id) & Account.role.in_(staff_roles))
            | (Account.id.in_(staff_ids) & Account.role.in_(staff_roles)))


def audience(session: Session, ticket: Ticket) -> list[Account]:
    return list(session.scalars(select(Account).where(_with_access(ticket.id, ticket.owner_id, ticket.creator_id))
                                .order_by(Account.id)))


def _copies_for_everyone_but_the_author():
    """INSERT ... SELECT: one outbox row per person with access except the post's author. Built once
    (it runs for every post). A Message-ID is a prefix and a suffix around the recipient's id."""
    people = select(Account.id, Account.email).where(
        _with_access(bindparam("ticket_id"), bindparam("owner_id"), bindparam("creator_id")),
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


def staff_on(session: Session, ticket: Ticket) -> list[Account]:
    """The staff who took part in the ticket: the part of its audience that is staff."""
    return [person for person in audience(session, ticket) if person.role.is_staff]


def fan_out(session: Session, ticket: Ticket, post: Post, *, kind: str, message_ids: tuple[str, str],
            now: datetime) -> None:
    """Queue the post for everyone with access except its author, in one statement. Each copy's
    Message-ID is its recipient's id between the two parts of `message_ids`."""
    prefix, suffix = message_ids
    session.execute(_COPIES, {
        "kind": kind, "ticket_id": ticket.id, "owner_id": ticket.owner_id, "creator_id": ticket.creator_id,
        "author_id": post.author_id, "post_id": post.id, "now": now, "id_prefix": prefix, "id_suffix": suffix,
    })
