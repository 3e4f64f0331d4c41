"""Who may read and post to a ticket, and who gets its posts: the one answer used by intake, the CLI,
the API, fan-out and delivery's re-check, in Python for one person and in SQL for many.

May read and post: the owner, every staff member, every accepted delegate.
Gets each post (its audience): the owner, every accepted delegate, and the staff who took part
(created the ticket, posted or invited); other staff may join by posting.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from gateway.domain.errors import Reason, Refused
from storage.models import Account, Delegate, DelegateStatus, Post, Role, Ticket

_STAFF_ROLES = (Role.STAFF, Role.ADMIN)


class Access(enum.Enum):
    OWNER = "owner"
    STAFF = "staff"
    DELEGATE = "delegate"
    INVITED = "invited"      # invitation not accepted yet
    REVOKED = "revoked"
    NONE = "none"

    @property
    def allowed(self) -> bool:
        return self in (Access.OWNER, Access.STAFF, Access.DELEGATE)


def latest_delegate(session: Session, ticket_id: int, account_id: int) -> Delegate | None:
    return session.scalars(
        select(Delegate)
        .where(Delegate.ticket_id == ticket_id, Delegate.account_id == account_id)
        .order_by(Delegate.id.desc())
        .limit(1)
    ).first()


def access_of(session: Session, ticket: Ticket, account: Account, now: datetime) -> Access:
    if account.id == ticket.owner_id:
        return Access.OWNER
    if account.role.is_staff:
        return Access.STAFF
    delegate = latest_delegate(session, ticket.id, account.id)
    if delegate is None:
        return Access.NONE
    if delegate.status == DelegateStatus.ACCEPTED:
        return Access.DELEGATE
    if delegate.invitation_open(now):
        return Access.INVITED
    if delegate.status == DelegateStatus.REVOKED:
        return Access.REVOKED
    return Access.NONE


def allowed_in_sql(ticket_id, owner_id, account_id, role) -> ColumnElement[bool]:
    """access_of(...).allowed as a condition on columns, for a query over many (ticket, account) pairs."""
    accepted = exists().where(Delegate.ticket_id == ticket_id, Delegate.account_id == account_id,
                              Delegate.status == DelegateStatus.ACCEPTED)
    return (owner_id == account_id) | role.in_(_STAFF_ROLES) | accepted


def in_audience(ticket_id, owner_id, creator_id) -> ColumnElement[bool]:
    """A condition on Account: the account gets the ticket's posts."""
    delegates = select(Delegate.account_id).where(
        Delegate.ticket_id == ticket_id, Delegate.status == DelegateStatus.ACCEPTED)
    posters = select(Post.author_id).where(Post.ticket_id == ticket_id)
    inviters = select(Delegate.invited_by_id).where(Delegate.ticket_id == ticket_id)
    staff_ids = posters.union(inviters).scalar_subquery()
    return ((Account.id == owner_id)
            | Account.id.in_(delegates)
            | ((Account.id == creator_id) & Account.role.in_(_STAFF_ROLES))
            | (Account.id.in_(staff_ids) & Account.role.in_(_STAFF_ROLES)))


def audience(session: Session, ticket: Ticket) -> list[Account]:
    return list(session.scalars(select(Account).where(in_audience(ticket.id, ticket.owner_id, ticket.creator_id))
                                .order_by(Account.id)))


def staff_on(session: Session, ticket: Ticket) -> list[Account]:
    """The staff who took part in the ticket: the part of its audience that is staff."""
    return [person for person in audience(session, ticket) if person.role.is_staff]


def require_post_access(session: Session, ticket: Ticket, account: Account, now: datetime) -> None:
    access = access_of(session, ticket, account, now)
    if access.allowed:
        return
    number = f"#{ticket.id}"
    if access == Access.INVITED:
        raise Refused(Reason.NOT_ACCEPTED,
                      f"You have not accepted your invitation to ticket {number} yet: open the accept "
                      "link in the invitation email first, then reply again.")
    if access == Access.REVOKED:
        raise Refused(Reason.REVOKED, f"Your access to ticket {number} was revoked.")
    raise Refused(Reason.NO_ACCESS, f"{account.email} has no access to ticket {number}.")
