"""The intake rules, in the manner of Mailman's: each has a name and a check, and a check that
matches returns the decision with its reason. gateway/intake/chain.py runs them in order.

A message rule reads the whole message and, when it matches, decides for every recipient. A
recipient rule reads one recipient and, when it matches, decides for that one; a recipient no rule
stops goes to its address's action (gateway/intake/actions.py).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import select

from gateway.domain.accounts import require_mailable
from gateway.domain.errors import Reason, Refused
from gateway.intake.arrival import Decision, refused
from gateway.intake.inbound import Inbound, Target
from gateway.intake.loop_breaker import Event, LoopBreaker
from gateway.outbox.deliverability import Deliverability
from parsers.addresses import AddressBook, BounceRoute, InviteRoute, ReplyRoute, Served, SupportRoute
from parsers.classify import Kind
from storage.models import InboundOutcome, Outcome, OutboxMessage

# the support address tells a stranger the same whether the From address has no account or a staff one
NOT_A_CLIENT = ("Tickets are opened by mail only from the address of a store customer's account; write from "
                "that address. Staff open tickets from the CLI or the API.")


class MessageRule(Protocol):
    name: str

    def check(self, message: Inbound) -> list[Decision] | None: ...


class RecipientRule(Protocol):
    name: str

    def check(self, message: Inbound, target: Target) -> Decision | None: ...


# --- message rules ---------------------------------------------------------------------

class DeliveryReport:
    """A bounce, delay or complaint report, or any mail to a bounce address: the outbox and the
    address's deliverability record what it says; it never posts."""

    name = "delivery-report"
    REPORTS = (Kind.BOUNCE, Kind.DELAY, Kind.FEEDBACK)

    def __init__(self, deliverability: Deliverability):
        self.deliverability = deliverability

    def check(self, message: Inbound) -> list[Decision] | None:
        if message.reading.kind not in self.REPORTS and not message.arrival.to_bounce_address:
            return None
        return [self._report(message, r) for r in message.arrival.recipients]

    def _report(self, message: Inbound, recipient: Served) -> Decision:
        kind = message.reading
        if not isinstance(recipient.route, BounceRoute):
            failed = ", ".join(kind.recipients) or "unknown recipient"
            return Decision(recipient.address, Outcome.BOUNCE,
                            f"{kind.reason} for {failed}; not tied to a message of ours")
        row = message.session.get(OutboxMessage, recipient.route.outbox)
        if row is None:
            return Decision(recipient.address, Outcome.BOUNCE, f"{kind.reason}; for a message no longer known")
        if kind.kind == Kind.BOUNCE:
            self.deliverability.bounced(message.session, row, kind.status, kind.reason, message.now, message.record.id)
        return Decision(recipient.address, Outcome.BOUNCE,
                        f"{kind.reason or 'delivery report'} for {row.recipient} (outbox #{row.id})", row.ticket_id)


class OwnMail:
    """Mail that the gateway itself sent, come back: a loop, never a post."""

    name = "own-mail"

    def __init__(self, addresses: AddressBook):
        self.addresses = addresses

    def check(self, message: Inbound) -> list[Decision] | None:
        if any(self.addresses.is_ours(a) for a in message.mail.from_addresses):
            reason = "mail loop: sent from one of the gateway's own addresses; not posted"
        elif self.addresses.is_our_message_id(message.mail.message_id):
            reason = "mail loop: a message the gateway sent came back; not posted"
        else:
            return None
        return [Decision(r.address, Outcome.AUTO_REPLY, reason) for r in message.arrival.recipients]


class AutomaticReply:
    """A vacation notice or other automatic answer: recorded, not posted."""

    name = "automatic-reply"

    def check(self, message: Inbound) -> list[Decision] | None:
        kind = message.reading
        if kind.kind != Kind.AUTO_REPLY:
            return None
        if message.person is None:
            return [Decision(r.address, Outcome.AUTO_REPLY, f"automatic reply ({kind.reason}); not posted")
                    for r in message.arrival.recipients]
        return [Decision(r.address, Outcome.AUTO_REPLY,
                         f"automatic reply ({kind.reason}) from {message.person}, who may post here; not posted",
                         r.ticket) for r in message.arrival.recipients]


# --- recipient rules -------------------------------------------------------------------

class Duplicate:
    """The same message delivered again to the same recipient, after it acted once: never twice."""

    name = "duplicate"

    def check(self, message: Inbound, target: Target) -> Decision | None:
        keys = message.keys[target.recipient.address]
        match = InboundOutcome.content_key == keys.by_content
        if keys.by_message_id is not None:
            match = match | (InboundOutcome.dedupe_key == keys.by_message_id)
        earlier = message.session.execute(
            select(InboundOutcome.message_id, InboundOutcome.ticket_id).where(match).limit(1)).first()
        if earlier is None:
            return None
        return Decision(target.recipient.address, Outcome.DUPLICATE,
                        f"already processed as inbound message #{earlier.message_id}", earlier.ticket_id)


class AddressInUse:
    """A reply or invite address whose ticket or account is gone."""

    name = "address-in-use"

    def check(self, message: Inbound, target: Target) -> Decision | None:
        route = target.recipient.route
        if not isinstance(route, (ReplyRoute, InviteRoute)) or (target.ticket and target.account):
            return None
        what = "reply" if isinstance(route, ReplyRoute) else "invite"
        return refused(target.recipient, Refused(Reason.NO_SUCH_TICKET, f"This {what} address is no longer in use."))


class OneFromAddress:
    """A message acts for one author: it needs exactly one valid From address."""

    name = "one-from-address"

    def check(self, message: Inbound, target: Target) -> Decision | None:
        count = len(message.mail.from_addresses)
        if count == 1:
            return None
        refusal = (Refused(Reason.NO_SENDER, "The message has no valid From address.") if count == 0 else
                   Refused(Reason.MULTIPLE_FROM, "Messages with more than one From address are not accepted."))
        return refused(target.recipient, refusal)


class SenderOwnsAddress:
    """A reply or invite address takes mail only from the person it was made for."""

    name = "sender-owns-address"

    def check(self, message: Inbound, target: Target) -> Decision | None:
        if not isinstance(target.recipient.route, (ReplyRoute, InviteRoute)) or target.account is None:
            return None
        if message.sender == target.account.email:
            return None
        return refused(target.recipient, Refused(
            Reason.SENDER_MISMATCH, "This address only takes mail from the person it was sent to; "
                                    "reply from the mailbox that received the message."))


class StoreClient:
    """The support address opens tickets for store customers only: an unknown sender (unless the
    gateway makes accounts for them) or a staff account is refused, in the same words."""

    name = "store-client"

    def __init__(self, create_sender_accounts: bool):
        self.create_sender_accounts = create_sender_accounts

    def check(self, message: Inbound, target: Target) -> Decision | None:
        if not isinstance(target.recipient.route, SupportRoute):
            return None
        sender, account = message.sender, target.account
        assert sender is not None  # OneFromAddress runs first
        if account is None and self.create_sender_accounts:
            try:
                require_mailable(sender)
            except Refused as refusal:
                return refused(target.recipient, refusal)
            return None
        if account is None:
            return refused(target.recipient, Refused(
                Reason.UNKNOWN_SENDER, NOT_A_CLIENT,
                record=f"{sender} has no store account; write from the address of your store account."))
        if account.role.is_staff:
            return refused(target.recipient, Refused(
                Reason.STAFF_TO_SUPPORT, NOT_A_CLIENT,
                record=f"{sender} is a {account.role.value} account: staff open tickets for a client "
                       "from the CLI or the API, not by mail to the support address."))
        return None


class LoopBreakerRule:
    """Too many posts from one sender, or to one ticket, in a short window: held for staff."""

    name = "loop-breaker"

    def __init__(self, breaker: LoopBreaker):
        self.breaker = breaker

    def check(self, message: Inbound, target: Target) -> Decision | None:
        route = target.recipient.route
        if isinstance(route, ReplyRoute) and target.account is not None:
            hold = self.breaker.check(message.session, target.account.email, True, route.ticket, message.now)
        elif isinstance(route, SupportRoute) and message.sender is not None:
            hold = self.breaker.check(message.session, message.sender, False, None, message.now)
        else:
            return None
        if hold is None:
            return None
        ticket_id = target.recipient.ticket
        return Decision(target.recipient.address, Outcome.HELD, hold.reason, ticket_id,
                        loop_event=Event(ticket_id, proven=isinstance(route, ReplyRoute), held=True),
                        tell_staff=hold.first)
