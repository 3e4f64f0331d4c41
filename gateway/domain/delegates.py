"""Delegates: invite, accept, revoke, expire (SPEC rules 1-6 and 9)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.domain.accounts import find_account, new_client, require_mailable, valid_email
from gateway.domain.errors import Reason, Refused
from gateway.domain.events import Accepted, Events, Invited, Revoked
from storage.db import rows_changed
from storage.models import (
    Account,
    Delegate,
    DelegateStatus,
    Post,
    Ticket,
)

LIVE = (DelegateStatus.INVITED, DelegateStatus.ACCEPTED)


def _require_staff(by: Account, action: str) -> None:
    if not by.role.is_staff:
        raise Refused(Reason.NOT_STAFF, f"Only staff and admins can {action} delegates; {by.email} is a client.")


def live_delegate(session: Session, ticket_id: int, account_id: int) -> Delegate | None:
    return session.scalars(select(Delegate).where(
        Delegate.ticket_id == ticket_id, Delegate.account_id == account_id, Delegate.status.in_(LIVE))).first()


@dataclass(frozen=True)
class InvitePolicy:
    """How invitations are made, as the operator set it (GATEWAY_INVITE_TTL, _CREATE_INVITEE_ACCOUNTS)."""

    ttl_seconds: int
    create_accounts: bool = False


def invite(session: Session, events: Events, ticket: Ticket, invitee_email: str, by: Account, *,
           now: datetime, policy: InvitePolicy) -> Delegate:
    _require_staff(by, "invite")
    if not ticket.is_active:
        raise Refused(Reason.TICKET_CLOSED, f"Ticket #{ticket.id} is closed; reopen it before inviting delegates.")
    address = valid_email(invitee_email)
    require_mailable(address)  # an invitation that cannot be sent would be a delegate who never hears of it
    invitee = find_account(session, address)
    if invitee is None:
        if not policy.create_accounts:
            raise Refused(Reason.NO_ACCOUNT, f"{address} has no store account; delegates must have one.")
        invitee = new_client(address)
        session.add(invitee)
        session.flush()
    if invitee.id == ticket.owner_id:
        raise Refused(Reason.IS_OWNER, f"{address} owns ticket #{ticket.id} and already has access.")
    current = live_delegate(session, ticket.id, invitee.id)
    if current is not None and current.invitation_run_out(now):
        _end(current, DelegateStatus.EXPIRED, now)
        session.flush()
        current = None
    if current is not None:
        state = "a delegate" if current.status == DelegateStatus.ACCEPTED else "invited (not accepted yet)"
        raise Refused(Reason.ALREADY_DELEGATE, f"{address} is already {state} on ticket #{ticket.id}.")
    delegate = Delegate(
        ticket_id=ticket.id, account_id=invitee.id, status=DelegateStatus.INVITED, invited_by_id=by.id,
        invited_at=now, expires_at=now + timedelta(seconds=policy.ttl_seconds),
        ticket=ticket, account=invitee, invited_by=by,
    )
    session.add(delegate)
    session.flush()
    events.record(session, Invited(delegate))
    return delegate


class LinkState(enum.Enum):
    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


def link_state(delegate: Delegate | None, now: datetime) -> LinkState:
    if delegate is None:
        return LinkState.UNKNOWN
    if delegate.status == DelegateStatus.ACCEPTED:
        return LinkState.USED
    if delegate.status == DelegateStatus.REVOKED:
        return LinkState.REVOKED
    if delegate.status == DelegateStatus.EXPIRED or delegate.invitation_run_out(now):
        return LinkState.EXPIRED
    return LinkState.VALID


def accept(session: Session, events: Events, delegate_id: int, now: datetime) -> tuple[Delegate | None, LinkState]:
    """Accept once: only an invited, unexpired invitation moves, whatever runs at the same time."""
    moved = rows_changed(session, update(Delegate)
                         .where(Delegate.id == delegate_id, Delegate.invitation_open(now))
                         .values(status=DelegateStatus.ACCEPTED, accepted_at=now)
                         .execution_options(synchronize_session=False))
    delegate = session.get(Delegate, delegate_id, populate_existing=True)
    if moved != 1 or delegate is None:
        return delegate, link_state(delegate, now)
    last = session.scalars(select(Post).where(Post.ticket_id == delegate.ticket_id)
                           .order_by(Post.id.desc()).limit(1)).first()
    events.record(session, Accepted(delegate, last))
    return delegate, LinkState.VALID


def revoke(session: Session, events: Events, ticket: Ticket, email: str, by: Account, now: datetime) -> Delegate:
    """Immediate: the delegate's pending mail is cancelled in the same transaction (Revoked)."""
    _require_staff(by, "revoke")
    address = valid_email(email)
    account = find_account(session, address)
    delegate = live_delegate(session, ticket.id, account.id) if account is not None else None
    if delegate is None:
        raise Refused(Reason.NOT_A_DELEGATE, f"{address} is not a delegate on ticket #{ticket.id}.")
    _end(delegate, DelegateStatus.REVOKED, now)
    delegate.revoked_by_id = by.id
    events.record(session, Revoked(delegate))
    return delegate


def expire_due(session: Session, now: datetime) -> int:
    """Invitations whose link has run out become expired; returns how many."""
    return rows_changed(
        session,
        update(Delegate)
        .where(Delegate.invitation_run_out(now))
        .values(status=DelegateStatus.EXPIRED, ended_at=now)
        .execution_options(synchronize_session=False))


def delegates_of(session: Session, ticket: Ticket, now: datetime, include_ended: bool = False) -> list[Delegate]:
    """The delegate list: invited and accepted people; with include_ended, the whole history."""
    query = select(Delegate).where(Delegate.ticket_id == ticket.id).order_by(Delegate.id)
    if not include_ended:
        query = query.where(Delegate.status.in_(LIVE), ~Delegate.invitation_run_out(now))
    return list(session.scalars(query))


def shown_status(delegate: Delegate, now: datetime) -> str:
    """The status a person sees: an invitation past its expiry shows as expired at once."""
    if delegate.invitation_run_out(now):
        return DelegateStatus.EXPIRED.value
    return delegate.status.value


def _end(delegate: Delegate, status: DelegateStatus, now: datetime) -> None:
    delegate.status = status
    delegate.ended_at = now
