"""Every message the gateway sends, rendered and queued as outbox rows in the caller's transaction.

Each copy is made for one recipient (their own reply address, their own Message-ID), threads
on the ticket's chain and marks itself as automatic so that responders stay quiet.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.compose import Envelope, OutboundAttachment, build_message
from gateway.config import Settings
from gateway.render import Renderer
from parsers.addresses import AddressBook, LinkSigner
from storage.models import Account, Delegate, OutboxMessage, Post, Ticket


@dataclass(frozen=True)
class InviteResult:
    email: str
    name: str | None = None
    refusal: str | None = None  # None when invited


class Mailer:
    def __init__(self, settings: Settings, addresses: AddressBook, links: LinkSigner,
                 renderer: Renderer, clock: Callable[[], datetime]):
        self.settings = settings
        self.addresses = addresses
        self.links = links
        self.renderer = renderer
        self.clock = clock

    # --- what each recipient gets -------------------------------------------------------

    def ticket_post(self, session: Session, ticket: Ticket, post: Post, recipient: Account,
                    first: bool = False) -> OutboxMessage:
        """A post of the thread, to one person with access."""
        return self._queue(
            session, "ticket_opened" if first else "post", ticket, recipient,
            from_name=f"{post.author.name} via {self.settings.store_name}",
            post=post, delegate=None, attachments=self._attachments_sent_with(post),
        )

    def new_ticket_alert(self, session: Session, ticket: Ticket, post: Post, staff: Account) -> OutboxMessage:
        """Tells staff who have not taken part that a client opened a ticket; replying takes part."""
        return self._queue(
            session, "new_ticket_alert", ticket, staff,
            from_name=f"{post.author.name} via {self.settings.store_name}",
            post=post, attachments=self._attachments_sent_with(post),
        )

    def _attachments_sent_with(self, post: Post) -> tuple[OutboundAttachment, ...]:
        attachments = tuple(OutboundAttachment(a.filename, a.content_type, a.data, a.content_id)
                            for a in post.attachments)
        if sum(len(a.data) for a in attachments) > self.settings.max_relay_attachments_bytes:
            return ()  # too large to send to everyone: the text lists them by name and size
        return attachments

    def invitation(self, session: Session, delegate: Delegate) -> OutboxMessage:
        # a reply to the invitation goes to the invitee's reply address, where it is refused with a
        # pointer to the accept link until they accept (SPEC rule 5), never to the support address
        return self._queue(
            session, "invite", delegate.ticket, delegate.account, delegate=delegate,
            accept_url=f"{self.settings.base_url.rstrip('/')}/accept/{self.links.accept_token(delegate.id)}",
            inviter=delegate.invited_by, expires_at=delegate.expires_at,
        )

    def thread_so_far(self, session: Session, delegate: Delegate, posts: list[Post]) -> OutboxMessage:
        return self._queue(session, "accepted", delegate.ticket, delegate.account, delegate=delegate, posts=posts)

    def acknowledgement(self, session: Session, ticket: Ticket, post: Post) -> OutboxMessage:
        return self._queue(session, "ack", ticket, ticket.owner, post=post)

    def invite_confirmation(self, session: Session, ticket: Ticket, staff: Account,
                            results: list[InviteResult]) -> OutboxMessage:
        return self._queue(
            session, "invite_confirmation", ticket, staff,
            invited=[r for r in results if r.refusal is None],
            refused=[r for r in results if r.refusal is not None],
        )

    def held_notice(self, session: Session, ticket: Ticket, staff: Account, sender: str, reason: str) -> OutboxMessage:
        """Tells staff that a safety rule is holding messages back on a ticket."""
        return self._queue(session, "held", ticket, staff, held_sender=sender, held_reason=reason)

    def delivery_stopped(self, session: Session, ticket: Ticket, staff: Account, address: str,
                         reason: str) -> OutboxMessage:
        """Tells staff that the gateway stopped sending to an address that bounces."""
        return self._queue(session, "delivery_stopped", ticket, staff, with_reply_address=False,
                           stopped_address=address, stopped_reason=reason)

    def refusal_notice(self, session: Session, recipient: Account, subject: str,
                       refusals: list[tuple[str, str]]) -> OutboxMessage:
        """Tells a sender which parts of their message were refused, and why."""
        return self._queue(session, "notice", None, recipient, with_reply_address=False,
                           original_subject=subject, refusals=refusals)

    # --- shared assembly ---------------------------------------------------------------

    def _queue(self, session: Session, kind: str, ticket: Ticket | None, recipient: Account, *,
               from_name: str | None = None, post: Post | None = None, delegate: Delegate | None = None,
               with_reply_address: bool = True, attachments: tuple[OutboundAttachment, ...] = (),
               **context) -> OutboxMessage:
        domain = self.addresses.domain
        reply_address = None
        if ticket is not None and with_reply_address:
            reply_address = self.addresses.reply_address(ticket.id, recipient.id)
        invite_address = None
        if ticket is not None and recipient.role.is_staff:
            invite_address = self.addresses.invite_address(ticket.id, recipient.id)
        rendered = self.renderer.email(
            kind, ticket=ticket, recipient=recipient, post=post, delegate=delegate,
            reply_address=reply_address, invite_address=invite_address,
            inline_images=any(a.content_id for a in attachments), **context,
        )
        message_id = f"{kind}.{uuid.uuid4().hex}@{domain}"
        root = f"ticket-{ticket.id}@{domain}" if ticket is not None else None
        envelope = Envelope(
            from_name=from_name or self.settings.store_name,
            from_address=self.addresses.support_address,
            to_name=recipient.name,
            to_address=recipient.email,
            subject=rendered.subject,
            message_id=message_id,
            date=self.clock(),
            reply_to=reply_address,
            in_reply_to=root,
            references=(root,) if root else (),
            extra_headers=(
                ("Auto-Submitted", "auto-generated"),
                ("X-Auto-Response-Suppress", "All"),
                ("List-Id", f"{self.settings.store_name} tickets <tickets.{domain}>"),
            ),
        )
        row = OutboxMessage(
            kind=kind,
            ticket_id=ticket.id if ticket is not None else None,
            post_id=post.id if post is not None else None,
            delegate_id=delegate.id if delegate is not None else None,
            recipient_id=recipient.id,
            recipient=recipient.email,
            message_id=message_id,
            raw=build_message(envelope, rendered.text, rendered.html, attachments),
            next_attempt_at=self.clock(),
        )
        session.add(row)
        return row
