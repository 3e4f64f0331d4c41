"""What the gateway tells people about inbound mail it did not post, in the message's transaction.

Refusals: where the channel answers the sender itself (an SMTP reply), a notice tells a store
account only of the refused part of a message accepted for other recipients. Where it cannot (IMAP),
every refusal gets a notice, to the single From address, never to a null sender, to automatic
mail, to one of the gateway's own addresses, or to an address that already got `limit` notices
within `window` seconds. Holds: the staff on the ticket hear of the first message held.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select

from gateway.domain.accounts import find_account, new_client
from gateway.intake.arrival import Decision
from gateway.intake.inbound import Inbound
from gateway.domain.access import staff_on
from gateway.outbox.queue import Outbox
from parsers.addresses import is_ascii_address, redact
from parsers.classify import no_automatic_answer
from storage.models import Outcome, RefusalNotice, Ticket

log = logging.getLogger(__name__)


class Notices:
    def __init__(self, outbox: Outbox, limit: int, window_seconds: int):
        self.outbox = outbox
        self.limit = limit
        self.window = timedelta(seconds=window_seconds)

    def tell(self, message: Inbound, decisions: list[Decision]) -> None:
        for decision in decisions:
            if decision.tell_staff:
                self._tell_staff(message, decision)
        refused = [(d.recipient, d.told) for d in decisions if d.outcome == Outcome.REFUSED]
        if not refused:
            return
        if not message.arrival.answers_sender:
            self._notify_sender(message, refused)
        elif len(refused) < len(decisions) and message.sender is not None:
            account = find_account(message.session, message.sender)
            if account is not None:
                self.outbox.refusal_notice(message.session, account, message.mail.subject, refused)

    def _tell_staff(self, message: Inbound, held: Decision) -> None:
        ticket = message.session.get(Ticket, held.ticket_id) if held.ticket_id is not None else None
        if ticket is None:
            log.warning("%s (no ticket, so no staff to tell)", held.reason)
            return
        sender = message.mail.from_addresses[0] if message.mail.from_addresses else "an unknown sender"
        for person in staff_on(message.session, ticket):
            self.outbox.held_notice(message.session, ticket, person, sender, held.reason)

    def _notify_sender(self, message: Inbound, refusals: list[tuple[str, str]]) -> None:
        """Queue one notice listing the refused recipients and why, unless it must not go."""
        why_not = self._why_not(message)
        if why_not:
            log.info("no refusal notice for inbound #%s: %s", message.record.id, why_not)
            return
        address = message.mail.from_addresses[0]
        account = find_account(message.session, address)
        if account is None:  # not stored: only the notice's greeting and To header use it
            account = new_client(address)
        self.outbox.refusal_notice(message.session, account, message.mail.subject, refusals)
        message.session.add(RefusalNotice(address=address, sent_at=message.now, inbound_id=message.record.id))

    def _why_not(self, message: Inbound) -> str | None:
        sender, mail = message.arrival.sender, message.mail
        if sender is not None and sender.strip().strip("<>") == "":
            return "null sender"
        if len(mail.from_addresses) != 1:
            return "no single From address"
        address = mail.from_addresses[0]
        if self.outbox.addresses.is_ours(address):
            return "sender is a gateway address"
        if not is_ascii_address(address):
            return "sender's address is not ASCII (the gateway does not send with SMTPUTF8)"
        automatic = no_automatic_answer(mail)
        if automatic:
            return f"automatic message ({automatic})"
        if self.limit <= 0:
            return "notices turned off"
        recent = message.session.scalar(select(func.count()).select_from(RefusalNotice).where(
            RefusalNotice.address == address, RefusalNotice.sent_at > message.now - self.window)) or 0
        if recent >= self.limit:
            return f"{redact(address)} already got {recent} notice(s) recently"
        return None
