"""Every message the gateway sends, queued as small outbox rows in the caller's transaction.

A row says what to send (a post of the thread, an invitation, a notice with its `details`) and to
whom; gateway.outbox.letters renders it when it is sent. A post's copies are inserted with one statement
(gateway.outbox.fanout).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.config import Settings
from parsers.addresses import AddressBook
from storage.models import Account, Delegate, OutboxMessage, Post, Ticket


@dataclass(frozen=True)
class InviteResult:
    email: str
    name: str | None = None
    refusal: str | None = None  # None when invited


class Mailer:
    def __init__(self, settings: Settings, addresses: AddressBook, clock: Callable[[], datetime]):
        self.settings = settings
        self.addresses = addresses
        self.clock = clock

    # --- what each recipient gets -------------------------------------------------------

    def post_message_ids(self, kind: str) -> tuple[str, str]:
        """Prefix and suffix of the Message-IDs of one post's copies, around each recipient's id:
        one random part for the post, so that each copy's is unique (gateway.outbox.fanout inserts them)."""
        return f"{kind}.{secrets.token_hex(16)}.", f"@{self.addresses.domain}"

    def new_ticket_alert(self, session: Session, ticket: Ticket, post: Post, staff: Account) -> OutboxMessage:
        """Tells staff who have not taken part that a client opened a ticket; replying takes part."""
        return self._queue(session, "new_ticket_alert", ticket, staff, post=post)

    def invitation(self, session: Session, delegate: Delegate) -> OutboxMessage:
        # a reply to the invitation goes to the invitee's reply address, where it is refused with a
        # pointer to the accept link until they accept (SPEC rule 5), never to the support address
        return self._queue(session, "invite", delegate.ticket, delegate.account, delegate=delegate)

    def thread_so_far(self, session: Session, delegate: Delegate, last: Post | None) -> OutboxMessage:
        """The thread up to `last`, oldest first, to a delegate who just accepted."""
        return self._queue(session, "accepted", delegate.ticket, delegate.account, delegate=delegate, post=last)

    def acknowledgement(self, session: Session, ticket: Ticket, post: Post) -> OutboxMessage:
        return self._queue(session, "ack", ticket, ticket.owner, post=post)

    def invite_confirmation(self, session: Session, ticket: Ticket, staff: Account,
                            results: list[InviteResult]) -> OutboxMessage:
        return self._queue(session, "invite_confirmation", ticket, staff, details={
            "invited": [asdict(r) for r in results if r.refusal is None],
            "refused": [asdict(r) for r in results if r.refusal is not None],
        })

    def held_notice(self, session: Session, ticket: Ticket, staff: Account, sender: str, reason: str) -> OutboxMessage:
        """Tells staff that a safety rule is holding messages back on a ticket."""
        return self._queue(session, "held", ticket, staff, details={"held_sender": sender, "held_reason": reason})

    def delivery_stopped(self, session: Session, ticket: Ticket, staff: Account, address: str,
                         reason: str) -> OutboxMessage:
        """Tells staff that the gateway stopped sending to an address that bounces."""
        return self._queue(session, "delivery_stopped", ticket, staff,
                           details={"stopped_address": address, "stopped_reason": reason})

    def refusal_notice(self, session: Session, recipient: Account, subject: str,
                       refusals: list[tuple[str, str]]) -> OutboxMessage:
        """Tells a sender which parts of their message were refused, and why. `recipient` may be an
        account that is not stored (a stranger writing to a mailbox): its name travels in the row."""
        return self._queue(session, "notice", None, recipient, details={
            "original_subject": subject, "refusals": [list(r) for r in refusals], "recipient_name": recipient.name})

    # --- one row -------------------------------------------------------------------------

    def _queue(self, session: Session, kind: str, ticket: Ticket | None, recipient: Account, *,
               post: Post | None = None, delegate: Delegate | None = None,
               details: dict | None = None) -> OutboxMessage:
        now = self.clock()
        row = OutboxMessage(
            kind=kind,
            ticket_id=ticket.id if ticket is not None else None,
            post_id=post.id if post is not None else None,
            delegate_id=delegate.id if delegate is not None else None,
            recipient_id=recipient.id,
            recipient=recipient.email,
            message_id=f"{kind}.{secrets.token_hex(16)}@{self.addresses.domain}",
            details=details,
            created_at=now,
            next_attempt_at=now,
        )
        session.add(row)
        return row
