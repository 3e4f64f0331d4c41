"""Who may read and post to a ticket: the one answer used by intake, the CLI and delivery."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.errors import Reason, Refused
from storage.models import Account, Delegate, DelegateStatus, Ticket


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
    if delegate.status == DelegateStatus.INVITED:
        return Access.INVITED if delegate.expires_at > now else Access.NONE
    if delegate.status == DelegateStatus.REVOKED:
        return Access.REVOKED
    return Access.NONE


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
