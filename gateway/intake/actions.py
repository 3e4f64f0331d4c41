"""What a message that passed every rule does, by the address it went to: a reply address posts,
an invite address invites the people a staff member forwarded, the support address opens a ticket."""

from __future__ import annotations

import re

from gateway.config import Settings
from gateway.domain.accounts import new_client
from gateway.domain.delegates import InvitePolicy, invite
from gateway.domain.errors import Reason, Refused
from gateway.domain.tickets import NewAttachment, NewPost, add_post, open_ticket
from gateway.intake.arrival import Decision
from gateway.intake.inbound import Inbound, Target
from gateway.intake.loop_breaker import Event
from gateway.outbox.queue import InviteResult, Outbox
from parsers.addresses import AddressBook, InviteRoute, ReplyRoute, SupportRoute, addresses_in_text
from parsers.filenames import safe_filename
from parsers.forwards import split_forward
from parsers.sanitize import inline_image_ids
from storage.models import Account, Outcome, PostSource

_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr|rv|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


class Actions:
    def __init__(self, outbox: Outbox, invites: InvitePolicy, settings: Settings, addresses: AddressBook):
        self.outbox = outbox
        self.invites = invites
        self.settings = settings
        self.addresses = addresses

    def act(self, message: Inbound, target: Target) -> Decision:
        """Raises Refused when the domain says no (the caller's savepoint then undoes what was begun)."""
        route = target.recipient.route
        if isinstance(route, ReplyRoute):
            return self.post_reply(message, target)
        if isinstance(route, InviteRoute):
            return self.invite_by_forward(message, target)
        assert isinstance(route, SupportRoute)  # mail to a bounce address is a delivery report
        return self.open_ticket(message, target)

    def post_reply(self, message: Inbound, target: Target) -> Decision:
        ticket, account = target.ticket, target.account
        assert ticket is not None and account is not None  # AddressInUse
        post = add_post(message.session, self.outbox, ticket, account, self._new_post(message), message.now)
        return Decision(target.recipient.address, Outcome.POSTED, f"post #{post.id} on ticket #{ticket.id}",
                        ticket.id, loop_event=Event(ticket.id, proven=True, held=False))

    def open_ticket(self, message: Inbound, target: Target) -> Decision:
        session, account = message.session, target.account
        if account is None:  # StoreClient lets an unknown sender through only when accounts are made for them
            assert message.sender is not None
            account = new_client(message.sender)
            session.add(account)
            session.flush()
        subject = _REPLY_PREFIX.sub("", message.mail.subject or "")
        ticket, post = open_ticket(session, self.outbox, owner=account, creator=account, subject=subject,
                                   first_post=self._new_post(message))
        self.outbox.acknowledgement(session, ticket, post)
        return Decision(target.recipient.address, Outcome.TICKET_CREATED, f"opened ticket #{ticket.id}", ticket.id,
                        loop_event=Event(ticket.id, proven=False, held=False))

    def invite_by_forward(self, message: Inbound, target: Target) -> Decision:
        session, ticket, staff = message.session, target.ticket, target.account
        assert ticket is not None and staff is not None  # AddressInUse
        results: list[InviteResult] = []
        for address in self._invitees(message, staff):
            try:
                with session.begin_nested():
                    delegate = invite(session, self.outbox, ticket, address, staff, now=message.now,
                                      policy=self.invites)
                results.append(InviteResult(address, delegate.account.name))
            except Refused as refusal:
                if refusal.reason in (Reason.NOT_STAFF, Reason.TICKET_CLOSED):
                    raise
                results.append(InviteResult(address, refusal=refusal.text))
        invited = [r.email for r in results if r.refusal is None]
        refused = "; ".join(f"{r.refusal}" for r in results if r.refusal is not None)
        if not invited:
            raise Refused(Reason.NO_INVITEES, f"No one was invited to ticket #{ticket.id}: {refused}")
        self.outbox.invite_confirmation(session, ticket, staff, results)
        summary = f"invited {', '.join(invited)} to ticket #{ticket.id}" + (f"; refused: {refused}" if refused else "")
        return Decision(target.recipient.address, Outcome.INVITED, summary, ticket.id)

    def _invitees(self, message: Inbound, staff: Account) -> list[str]:
        """Addresses the staff member wrote above the forwarded part; else the forwarded mail's sender."""
        forward = split_forward(message.mail)

        def eligible(address: str) -> bool:
            return address != staff.email and not self.addresses.is_ours(address)

        written = [a for a in addresses_in_text(forward.note) if eligible(a)]
        if written:
            return written
        if forward.original_sender and eligible(forward.original_sender):
            return [forward.original_sender]
        raise Refused(Reason.NO_INVITEES,
                      "No one to invite: write the addresses above the forwarded message, "
                      "or forward a message written by the person to invite.")

    def _new_post(self, message: Inbound) -> NewPost:
        content = message.content
        assert content is not None  # read for every message that may post
        kept, left_out = self._capped_attachments(message, inline_image_ids(content.html or ""))
        trimmed = "\n".join([content.trimmed, *left_out]).strip("\n")
        return NewPost(body=content.text, html=content.html, trimmed=trimmed, source=PostSource.EMAIL,
                       inbound_id=message.record.id, email_message_id=message.mail.message_id, attachments=kept)

    def _capped_attachments(self, message: Inbound, shown_inline: set[str]) -> tuple[list[NewAttachment], list[str]]:
        """Attachments within the caps, and a note for each one left out (the raw message keeps them all).

        An attachment keeps its Content-ID only when the post's HTML shows it, so that the copies can
        carry it as an inline image; any other is an ordinary attachment."""
        kept: list[NewAttachment] = []
        left_out: list[str] = []
        total = 0
        for attachment in message.mail.attachments:
            name = safe_filename(attachment.filename)
            size = len(attachment.data)
            if size > self.settings.max_attachment_bytes or total + size > self.settings.max_post_attachments_bytes:
                left_out.append(f"[attachment {name} ({size} bytes) left out: over the size limit; "
                                "it is kept in the raw message]")
                continue
            total += size
            content_id = attachment.content_id if attachment.content_id in shown_inline else None
            kept.append(NewAttachment(name, attachment.content_type, attachment.data, content_id))
        return kept, left_out
