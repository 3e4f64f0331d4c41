"""Every message the gateway sends, queued as small outbox rows in the caller's transaction.

A row says what to send (a post of the thread, an invitation, a notice with its `details`) and to
whom; gateway.outbox.letters renders it when it is sent (gateway.outbox.outbound). The domain's
events (gateway.domain.events) become rows here, at once; a post's copies are inserted with one
statement (gateway.outbox.fanout).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import assert_never

from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.domain.accounts import accounts_with_roles
from gateway.domain.events import Accepted, Event, Invited, PostAdded, Revoked, TicketOpened
from gateway.outbox import kinds
from gateway.outbox.fanout import fan_out
from gateway.outbox.kinds import Kind
from parsers.addresses import AddressBook
from storage.models import Account, Delegate, OutboxMessage, OutboxStatus, Post, Role, Ticket

# who hears of a ticket a client opened, as the operator chose (new_ticket_alerts)
_ALERTED_ROLES = {"none": (), "admins": (Role.ADMIN,), "staff": (Role.STAFF, Role.ADMIN)}


@dataclass(frozen=True)
class InviteResult:
    email: str
    name: str | None = None
    refusal: str | None = None  # None when invited


class Outbox:
    def __init__(self, settings: Settings, addresses: AddressBook, clock: Callable[[], datetime]):
        self.settings = settings
        self.addresses = addresses
        self.clock = clock

    # --- what the domain did (gateway.domain.events.Events) ------------------------------

    def record(self, session: Session, event: Event) -> None:
        match event:
            case TicketOpened(ticket, post):
                self._copies(session, kinds.TICKET_OPENED, ticket, post)
                if not ticket.creator.role.is_staff:
                    self._alert_staff(session, ticket, post)
            case PostAdded(ticket, post):
                self._copies(session, kinds.POST, ticket, post)
            case Invited(delegate):
                # a reply to the invitation goes to the invitee's reply address, where it is refused with a
                # pointer to the accept link until they accept (SPEC rule 5), never to the support address
                self._queue(session, kinds.INVITE, delegate.ticket, delegate.account, delegate=delegate)
            case Accepted(delegate, last_post):
                self._queue(session, kinds.ACCEPTED, delegate.ticket, delegate.account, delegate=delegate,
                            post=last_post)
            case Revoked(delegate):
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.ticket_id == delegate.ticket_id,
                           OutboxMessage.recipient_id == delegate.account_id,
                           OutboxMessage.status == OutboxStatus.PENDING)
                    .values(status=OutboxStatus.CANCELLED, last_error="delegate access revoked")
                    .execution_options(synchronize_session=False))
            case _:
                assert_never(event)

    def _copies(self, session: Session, kind: Kind, ticket: Ticket, post: Post) -> None:
        """The post for everyone with access except its author. Their Message-IDs share one random
        part, after which each names its recipient (AddressBook.copy_message_ids gives the form)."""
        fan_out(session, ticket, post, kind=kind.name, now=self.clock(),
                message_ids=self.addresses.copy_message_ids(kind.name))

    def _alert_staff(self, session: Session, ticket: Ticket, post: Post) -> None:
        """Staff who have not taken part hear that a client opened a ticket; replying takes part."""
        roles = _ALERTED_ROLES[self.settings.new_ticket_alerts]
        staff = accounts_with_roles(session, roles) if roles else []
        for account in staff:
            self._queue(session, kinds.NEW_TICKET_ALERT, ticket, account, post=post)

    # --- what the intake answers and tells staff -----------------------------------------

    def acknowledgement(self, session: Session, ticket: Ticket, post: Post) -> OutboxMessage:
        return self._queue(session, kinds.ACK, ticket, ticket.owner, post=post)

    def invite_confirmation(self, session: Session, ticket: Ticket, staff: Account,
                            results: list[InviteResult]) -> OutboxMessage:
        return self._queue(session, kinds.INVITE_CONFIRMATION, ticket, staff, details={
            "invited": [asdict(r) for r in results if r.refusal is None],
            "refused": [asdict(r) for r in results if r.refusal is not None],
        })

    def held_notice(self, session: Session, ticket: Ticket, staff: Account, sender: str, reason: str) -> OutboxMessage:
        """Tells staff that a safety rule is holding messages back on a ticket."""
        return self._queue(session, kinds.HELD, ticket, staff, details={"held_sender": sender, "held_reason": reason})

    def delivery_stopped(self, session: Session, ticket: Ticket, staff: Account, address: str,
                         reason: str) -> OutboxMessage:
        """Tells staff that the gateway stopped sending to an address that bounces."""
        return self._queue(session, kinds.DELIVERY_STOPPED, ticket, staff,
                           details={"stopped_address": address, "stopped_reason": reason})

    def refusal_notice(self, session: Session, recipient: Account, subject: str,
                       refusals: list[tuple[str, str]]) -> OutboxMessage:
        """Tells a sender which parts of their message were refused, and why. `recipient` may be an
        account that is not stored (a stranger writing to a mailbox): its name travels in the row."""
        return self._queue(session, kinds.NOTICE, None, recipient, details={
            "original_subject": subject, "refusals": [list(r) for r in refusals], "recipient_name": recipient.name})

    # --- one row -------------------------------------------------------------------------

    def _queue(self, session: Session, kind: Kind, ticket: Ticket | None, recipient: Account, *,
               post: Post | None = None, delegate: Delegate | None = None,
               details: dict | None = None) -> OutboxMessage:
        now = self.clock()
        row = OutboxMessage(
            kind=kind.name,
            ticket_id=ticket.id if ticket is not None else None,
            post_id=post.id if post is not None else None,
            delegate_id=delegate.id if delegate is not None else None,
            recipient_id=recipient.id,
            recipient=recipient.email,
            message_id=self.addresses.message_id(kind.name),
            details=details,
            created_at=now,
            next_attempt_at=now,
        )
        session.add(row)
        return row
