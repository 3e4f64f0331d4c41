"""A post -> one outbox row per person with access, in the same transaction as the post (one statement)."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gateway.accounts import accounts_with_roles
from gateway.mailer import Mailer
from storage.models import Account, Delegate, DelegateStatus, Post, Role, Ticket


def _with_access(ticket: Ticket):
    """The owner, every accepted delegate, and the staff who took part (created, posted, invited)."""
    staff_roles = (Role.STAFF, Role.ADMIN)
    delegates = select(Delegate.account_id).where(
        Delegate.ticket_id == ticket.id, Delegate.status == DelegateStatus.ACCEPTED)
    posters = select(Post.author_id).where(Post.ticket_id == ticket.id)
    inviters = select(Delegate.invited_by_id).where(Delegate.ticket_id == ticket.id)
    staff_ids = posters.union(inviters).scalar_subquery()
    return ((Account.id == ticket.owner_id)
            | Account.id.in_(delegates)
            | ((Account.id == ticket.creator_id) & Account.role.in_(staff_roles))
            | (Account.id.in_(staff_ids) & Account.role.in_(staff_roles)))


def audience(session: Session, ticket: Ticket) -> list[Account]:
    return list(session.scalars(select(Account).where(_with_access(ticket)).order_by(Account.id)))


def audience_but(ticket: Ticket, author: Account) -> Select:
    """(id, email) of everyone with access except `author`, for Mailer.post_to_everyone."""
    return select(Account.id, Account.email).where(_with_access(ticket), Account.id != author.id)


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
    """Queue the post for everyone with access except its author; returns how many copies."""
    return mailer.post_to_everyone(session, ticket, post, audience_but(ticket, post.author), first=first)
