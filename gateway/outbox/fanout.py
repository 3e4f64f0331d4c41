"""A post -> one outbox row per person with access, in the same transaction as the post (one statement)."""

from __future__ import annotations

from sqlalchemy import String, bindparam, cast, insert, literal, select
from sqlalchemy.orm import Session

from gateway.domain.accounts import accounts_with_roles
from gateway.outbox.mailer import Mailer
from storage.db import rows_changed
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
    (it runs for every post). Message-IDs are a prefix and suffix that Mailer.post_message_ids makes,
    around the recipient's id."""
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


_ALERTED_ROLES = {"none": (), "admins": (Role.ADMIN,), "staff": (Role.STAFF, Role.ADMIN)}


def alert_staff(session: Session, mailer: Mailer, ticket: Ticket, post: Post) -> int:
    """The staff the operator chose (new_ticket_alerts) hear of a ticket a client opened."""
    roles = _ALERTED_ROLES[mailer.settings.new_ticket_alerts]
    staff = accounts_with_roles(session, roles) if roles else []
    for account in staff:
        mailer.new_ticket_alert(session, ticket, post, account)
    return len(staff)


def fan_out(session: Session, mailer: Mailer, ticket: Ticket, post: Post, first: bool = False) -> int:
    """Queue the post for everyone with access except its author, in one statement; returns how many copies."""
    kind = "ticket_opened" if first else "post"
    prefix, suffix = mailer.post_message_ids(kind)
    return rows_changed(session, _COPIES, {
        "kind": kind, "ticket_id": ticket.id, "owner_id": ticket.owner_id, "creator_id": ticket.creator_id,
        "author_id": post.author_id, "post_id": post.id, "now": mailer.clock(), "id_prefix": prefix,
        "id_suffix": suffix,
    })
