"""The ordered steps for one inbound message, shared by SMTP and IMAP.

receive -> parse -> classify (bounce / auto-reply: record, stop) -> per recipient: dedupe,
route, authorize, extract, apply. The raw message, every recipient's outcome and everything
the message caused (posts, invitations, outbox rows) are written in one savepoint of a group
commit (storage.group_commit), which commits the messages of concurrent sessions together; the
caller answers the sender only after that commit.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import cast

from sqlalchemy import exc as sa_exc
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from gateway.domain.access import access_of
from gateway.domain.accounts import find_account, new_client, require_mailable
from gateway.outbox.fanout import staff_on
from gateway.config import Settings
from gateway.outbox.deliverability import Deliverability
from gateway.domain.delegates import InvitePolicy, invite
from gateway.domain.errors import Held, Reason, Refused, StorageUnavailable
from gateway.intake.loop_breaker import Event, LoopBreaker
from gateway.outbox.queue import InviteResult, Outbox
from gateway.intake.notices import RefusalNotices
from gateway.domain.tickets import NewAttachment, NewPost, add_post, open_ticket
from parsers.addresses import BounceRoute, InviteRoute, ReplyRoute, SupportRoute, addresses_in_text
from parsers.classify import Classification, Kind, classify
from parsers.content import Content, reply_content
from parsers.filenames import safe_filename
from parsers.forwards import split_forward
from parsers.mime import MalformedMessage, ParsedMail, body_bytes, parse_message
from parsers.sanitize import inline_image_ids
from storage.db import STORAGE_DOWN
from storage.group_commit import GroupCommit
from storage.models import (
    Account,
    InboundMessage,
    InboundOutcome,
    Outcome,
    OutboxMessage,
    OutboxStatus,
    PostSource,
    Ticket,
)

log = logging.getLogger(__name__)

# outcomes that changed something: the same message must never cause them twice
_ACTING = (Outcome.POSTED, Outcome.TICKET_CREATED, Outcome.INVITED)
# the support address tells a stranger the same whether the From address has no account or a staff one
_NOT_A_CLIENT = ("Tickets are opened by mail only from the address of a store customer's account; write from "
                 "that address. Staff open tickets from the CLI or the API.")
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr|rv|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class Delivery:
    """How a message reached us: the SMTP envelope, or its IMAP equivalent."""

    sender: str | None  # MAIL FROM; "" is the null sender, None unknown
    recipients: tuple[str, ...]
    channel: str  # smtp | imap


@dataclass(frozen=True)
class DedupeKeys:
    """What makes a later delivery of this message to one recipient a duplicate (either key)."""

    by_message_id: str | None
    by_content: str | None


@dataclass(frozen=True)
class Decision:
    recipient: str
    outcome: Outcome
    reason: str
    ticket_id: int | None = None
    refusal: Refused | None = None
    loop_event: Event | None = None  # what the loop breaker counts of it

    @property
    def told(self) -> str:
        """The reason as the sender may hear it (`reason` is the record for staff)."""
        return self.refusal.text if self.refusal is not None else self.reason


class Intake:
    def __init__(self, commits: GroupCommit, outbox: Outbox, deliverability: Deliverability, invites: InvitePolicy,
                 settings: Settings, clock: Callable[[], datetime]):
        self.commits = commits
        self.outbox = outbox
        self.deliverability = deliverability
        self.invites = invites
        self.addresses = outbox.addresses
        self.settings = settings
        self.clock = clock
        self.notices = RefusalNotices(outbox, settings.imap_notice_limit, settings.imap_notice_window)
        self.breaker = LoopBreaker(settings)

    def process(self, raw: bytes, delivery: Delivery) -> list[Decision]:
        """Decide and commit. Raises StorageUnavailable when nothing could be recorded."""
        # one outcome per address, however often and in whatever spelling the envelope names it
        canonical = (self.addresses.canonical(r) or r.lower() for r in delivery.recipients)
        delivery = replace(delivery, recipients=tuple(dict.fromkeys(canonical)))
        try:
            try:
                return self._record(raw, delivery)
            except sa_exc.IntegrityError:
                # a concurrent delivery of the same message committed first: decide again, as a duplicate
                return self._record(raw, delivery)
        except STORAGE_DOWN as exc:
            raise StorageUnavailable(str(exc.__class__.__name__)) from exc
        except Exception as exc:  # a bug must not lose the message: keep it for staff
            log.exception("intake failed; message held")
            return self._hold(raw, delivery, exc)

    # --- recording ---------------------------------------------------------------------

    def _record(self, raw: bytes, delivery: Delivery) -> list[Decision]:
        try:
            mail = parse_message(raw)
        except MalformedMessage as exc:
            return self._record_unreadable(raw, delivery, exc)
        # what needs no database is done before the transaction: on SQLite it holds the one write lock
        kind = classify(mail, delivery.sender)
        # what the message's structure alone says: it decides for the people the gateway knows
        declared = classify(mail, delivery.sender, wording=False) if kind.kind != Kind.POST else kind
        content = reply_content(mail) if declared.kind == Kind.POST else None
        body = hashlib.sha256(body_bytes(raw)).hexdigest()
        now = self.clock()

        def record(session: Session) -> list[Decision]:
            inbound = self._store_raw(session, raw, delivery, mail, now)
            keys = {r: self._dedupe_keys(inbound, body, mail, r) for r in delivery.recipients}
            decisions = self._decide(session, inbound, keys, mail, kind, declared, content, delivery, now)
            self._record_outcomes(session, inbound, decisions, keys, now)
            return decisions
        return self.commits.run(record)

    def _record_unreadable(self, raw: bytes, delivery: Delivery, error: MalformedMessage) -> list[Decision]:
        refusal = Refused(Reason.MALFORMED, f"The message could not be read: {error}.")
        now = self.clock()

        def record(session: Session) -> list[Decision]:
            inbound = self._store_raw(session, raw, delivery, None, now)
            decisions = [self._refused(r, refusal) for r in delivery.recipients]
            self._record_outcomes(session, inbound, decisions, {}, now)
            return decisions
        return self.commits.run(record)

    def _record_outcomes(self, session: Session, inbound: InboundMessage, decisions: list[Decision],
                         keys: dict[str, DedupeKeys], now: datetime) -> None:
        session.flush()  # what the decisions made goes first: the outcomes point at it
        outcomes = []
        for decision in decisions:
            kept = keys[decision.recipient] if decision.outcome in _ACTING else DedupeKeys(None, None)
            outcomes.append({"message_id": inbound.id, "recipient": decision.recipient,
                             "outcome": decision.outcome, "reason": decision.reason,
                             "ticket_id": decision.ticket_id, "dedupe_key": kept.by_message_id,
                             "content_key": kept.by_content})
        session.execute(insert(cast(Table, InboundOutcome.__table__)), outcomes)
        self.breaker.count(session, inbound.sender, [d.loop_event for d in decisions if d.loop_event], now)

    def _hold(self, raw: bytes, delivery: Delivery, error: Exception) -> list[Decision]:
        reason = f"held: processing failed ({type(error).__name__}); kept for staff to look at"

        def record(session: Session) -> list[Decision]:
            inbound = self._store_raw(session, raw, delivery, None, self.clock())
            decisions = [Decision(r, Outcome.HELD, reason) for r in delivery.recipients]
            session.add_all(InboundOutcome(message_id=inbound.id, recipient=d.recipient, outcome=d.outcome,
                                           reason=d.reason) for d in decisions)
            session.flush()
            return decisions
        try:
            return self.commits.run(record)
        except Exception as exc:
            raise StorageUnavailable(type(exc).__name__) from exc

    def _store_raw(self, session: Session, raw: bytes, delivery: Delivery, mail: ParsedMail | None,
                   now: datetime) -> InboundMessage:
        inbound = InboundMessage(
            received_at=now, channel=delivery.channel, envelope_sender=delivery.sender,
            message_id=mail.message_id if mail else None,
            sender=mail.from_addresses[0] if mail and mail.from_addresses else None,
            subject=mail.subject if mail else None,
            sha256=hashlib.sha256(raw).hexdigest(), raw=raw,
        )
        session.add(inbound)
        session.flush()
        return inbound

    @staticmethod
    def _dedupe_keys(inbound: InboundMessage, body: str, mail: ParsedMail, recipient: str) -> DedupeKeys:
        """by_message_id is the SPEC's duplicate: the same Message-ID from the same sender.
        by_content is the same message again whatever the servers on the way added to its header or
        put in its Message-ID: the sender, the Date it was written, its Subject and its body (`body`:
        the digest of parsers.mime.body_bytes)."""
        by_message_id = None
        if inbound.message_id:
            identity = f"{inbound.message_id}|{inbound.sender}|{recipient.lower()}"
            by_message_id = hashlib.sha256(identity.encode()).hexdigest()
        date = (mail.headers.get("Date") or "").strip()
        identity = f"{inbound.sender}|{recipient.lower()}|{date}|{inbound.subject}|{body}"
        return DedupeKeys(by_message_id, hashlib.sha256(identity.encode()).hexdigest())

    # --- deciding ----------------------------------------------------------------------

    def _decide(self, session: Session, inbound: InboundMessage, keys: dict[str, DedupeKeys], mail: ParsedMail,
                kind: Classification, declared: Classification, content: Content | None, delivery: Delivery,
                now: datetime) -> list[Decision]:
        routes = {r: self.addresses.route(r) for r in delivery.recipients}
        to_bounce_address = any(isinstance(route, BounceRoute) for route in routes.values())
        if kind.kind != Kind.POST and not to_bounce_address:
            person = self._person_with_access(session, mail, routes, now)
            if person is not None:  # their words and name never make their mail automatic
                kind = declared
                if kind.kind == Kind.AUTO_REPLY and not self._own_mail(mail):
                    return [Decision(r, Outcome.AUTO_REPLY, f"automatic reply ({kind.reason}) from {person}, who "
                                     "may post here; not posted", getattr(routes[r], "ticket", None))
                            for r in delivery.recipients]
        if kind.kind in (Kind.BOUNCE, Kind.DELAY, Kind.FEEDBACK) or to_bounce_address:
            return [self._bounce(session, inbound, r, routes[r], kind, now) for r in delivery.recipients]
        loop = self._own_mail(mail)
        if loop:
            return [Decision(r, Outcome.AUTO_REPLY, loop) for r in delivery.recipients]
        if kind.kind == Kind.AUTO_REPLY:
            return [Decision(r, Outcome.AUTO_REPLY, f"automatic reply ({kind.reason}); not posted")
                    for r in delivery.recipients]
        assert content is not None  # read for every message that may post
        decisions = []
        for recipient in delivery.recipients:
            duplicate = self._earlier(session, keys[recipient])
            if duplicate is not None:
                decisions.append(Decision(recipient, Outcome.DUPLICATE,
                                          f"already processed as inbound message #{duplicate.message_id}",
                                          duplicate.ticket_id))
                continue
            route = routes[recipient]
            try:
                with session.begin_nested():
                    decisions.append(self._act(session, inbound, mail, content, recipient, route, now))
            except Refused as refusal:
                decisions.append(self._refused(recipient, refusal, getattr(route, "ticket", None)))
            except Held as held:
                ticket_id = getattr(route, "ticket", None)
                decisions.append(Decision(recipient, Outcome.HELD, str(held), ticket_id,
                                          loop_event=Event(ticket_id, _proven(route), held=True)))
                if held.first:
                    self._tell_staff(session, ticket_id, mail, str(held))
        if delivery.channel == "imap":  # no SMTP reply can tell the sender: every refusal gets a notice
            self.notices.send(session, mail, delivery.sender, inbound.id,
                              [(d.recipient, d.told) for d in decisions if d.outcome == Outcome.REFUSED], now)
        else:
            self._notice_refused_parts(session, mail, decisions)
        return decisions

    @staticmethod
    def _earlier(session: Session, keys: DedupeKeys):
        """(message_id, ticket_id) of an earlier delivery of this same message to this recipient that acted."""
        match = InboundOutcome.content_key == keys.by_content
        if keys.by_message_id is not None:
            match = match | (InboundOutcome.dedupe_key == keys.by_message_id)
        return session.execute(select(InboundOutcome.message_id, InboundOutcome.ticket_id).where(match).limit(1)).first()

    def _own_mail(self, mail: ParsedMail) -> str | None:
        """Mail that the gateway itself sent, come back: a loop, never a post."""
        if any(self.addresses.is_ours(a) for a in mail.from_addresses):
            return "mail loop: sent from one of the gateway's own addresses; not posted"
        if self.addresses.is_our_message_id(mail.message_id):
            return "mail loop: a message the gateway sent came back; not posted"
        return None

    def _person_with_access(self, session: Session, mail: ParsedMail, routes: dict, now: datetime) -> str | None:
        """The From address, when it is an account that may post where the message went: the owner
        of the reply address with access to its ticket, the staff member of the invite address, or
        a client writing to the support address."""
        if len(mail.from_addresses) != 1:
            return None
        sender = mail.from_addresses[0]
        for route in routes.values():
            if isinstance(route, (ReplyRoute, InviteRoute)):
                account = session.get(Account, route.account)
                ticket = session.get(Ticket, route.ticket)
                if account is None or ticket is None or account.email != sender:
                    continue
                if access_of(session, ticket, account, now).allowed and (
                        isinstance(route, ReplyRoute) or account.role.is_staff):
                    return sender
            elif isinstance(route, SupportRoute):
                account = find_account(session, sender)
                if account is not None and not account.role.is_staff:
                    return sender
        return None

    def _tell_staff(self, session: Session, ticket_id: int | None, mail: ParsedMail, reason: str) -> None:
        ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
        if ticket is None:
            log.warning("%s (no ticket, so no staff to tell)", reason)
            return
        sender = mail.from_addresses[0] if mail.from_addresses else "an unknown sender"
        for person in staff_on(session, ticket):
            self.outbox.held_notice(session, ticket, person, sender, reason)

    def _act(self, session: Session, inbound: InboundMessage, mail: ParsedMail, content: Content,
             recipient: str, route,
             now: datetime) -> Decision:
        if isinstance(route, ReplyRoute):
            return self._reply(session, inbound, mail, content, recipient, route, now)
        if isinstance(route, InviteRoute):
            return self._forward_invite(session, mail, recipient, route, now)
        if isinstance(route, SupportRoute):
            return self._new_ticket(session, inbound, mail, content, recipient, now)
        raise Refused(Reason.NO_SUCH_TICKET, f"{recipient} is not an address of this helpdesk.")

    @staticmethod
    def _refused(recipient: str, refusal: Refused, ticket_id: int | None = None) -> Decision:
        return Decision(recipient, Outcome.REFUSED, refusal.record, ticket_id, refusal=refusal)

    def _bounce(self, session: Session, inbound: InboundMessage, recipient: str, route, kind: Classification,
                now: datetime) -> Decision:
        if not isinstance(route, BounceRoute):
            failed = ", ".join(kind.recipients) or "unknown recipient"
            return Decision(recipient, Outcome.BOUNCE, f"{kind.reason} for {failed}; not tied to a message of ours")
        row = session.get(OutboxMessage, route.outbox)
        if row is None:
            return Decision(recipient, Outcome.BOUNCE, f"{kind.reason}; for a message no longer known")
        if kind.kind == Kind.BOUNCE:
            if row.status in (OutboxStatus.SENT, OutboxStatus.SENDING):
                row.status = OutboxStatus.BOUNCED
                row.last_error = kind.reason
            self.deliverability.record(session, row.recipient, kind.status, kind.reason, now, outbox_id=row.id,
                                       ticket_id=row.ticket_id, inbound_id=inbound.id)
        return Decision(recipient, Outcome.BOUNCE,
                        f"{kind.reason or 'delivery report'} for {row.recipient} (outbox #{row.id})", row.ticket_id)

    def _sender(self, mail: ParsedMail) -> str:
        if not mail.from_addresses:
            raise Refused(Reason.NO_SENDER, "The message has no valid From address.")
        if len(mail.from_addresses) > 1:
            raise Refused(Reason.MULTIPLE_FROM, "Messages with more than one From address are not accepted.")
        return mail.from_addresses[0]

    def _require_sender_is(self, mail: ParsedMail, account: Account) -> None:
        if self._sender(mail) != account.email:
            raise Refused(Reason.SENDER_MISMATCH,
                          "This address only takes mail from the person it was sent to; "
                          "reply from the mailbox that received the message.")

    def _new_post(self, inbound: InboundMessage, mail: ParsedMail, content: Content) -> NewPost:
        kept, left_out = self._capped_attachments(mail, inline_image_ids(content.html or ""))
        trimmed = "\n".join([content.trimmed, *left_out]).strip("\n")
        return NewPost(body=content.text, html=content.html, trimmed=trimmed, source=PostSource.EMAIL,
                       inbound_id=inbound.id, email_message_id=mail.message_id, attachments=kept)

    def _capped_attachments(self, mail: ParsedMail, shown_inline: set[str]) -> tuple[list[NewAttachment], list[str]]:
        """Attachments within the caps, and a note for each one left out (the raw message keeps them all).

        An attachment keeps its Content-ID only when the post's HTML shows it, so that the copies can
        carry it as an inline image; any other is an ordinary attachment."""
        kept: list[NewAttachment] = []
        left_out: list[str] = []
        total = 0
        for attachment in mail.attachments:
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

    def _reply(self, session: Session, inbound: InboundMessage, mail: ParsedMail, content: Content, recipient: str,
               route: ReplyRoute, now: datetime) -> Decision:
        ticket = session.get(Ticket, route.ticket)
        account = session.get(Account, route.account)
        if ticket is None or account is None:
            raise Refused(Reason.NO_SUCH_TICKET, "This reply address is no longer in use.")
        self._require_sender_is(mail, account)
        self.breaker.check(session, account.email, True, ticket.id, now)
        post = add_post(session, self.outbox, ticket, account, self._new_post(inbound, mail, content), now)
        return Decision(recipient, Outcome.POSTED, f"post #{post.id} on ticket #{ticket.id}", ticket.id,
                        loop_event=Event(ticket.id, proven=True, held=False))

    def _new_ticket(self, session: Session, inbound: InboundMessage, mail: ParsedMail, content: Content,
                    recipient: str,
                    now: datetime) -> Decision:
        sender = self._sender(mail)
        account = find_account(session, sender)
        if account is None and self.settings.create_sender_accounts:
            require_mailable(sender)
            account = new_client(sender)
            session.add(account)
            session.flush()
        if account is None:
            raise Refused(Reason.UNKNOWN_SENDER, _NOT_A_CLIENT,
                          record=f"{sender} has no store account; write from the address of your store account.")
        if account.role.is_staff:
            raise Refused(Reason.STAFF_TO_SUPPORT, _NOT_A_CLIENT,
                          record=f"{sender} is a {account.role.value} account: staff open tickets for a client "
                                 "from the CLI or the API, not by mail to the support address.")
        self.breaker.check(session, sender, False, None, now)
        subject = _REPLY_PREFIX.sub("", mail.subject or "")
        ticket, post = open_ticket(session, self.outbox, owner=account, creator=account, subject=subject,
                                   first_post=self._new_post(inbound, mail, content))
        self.outbox.acknowledgement(session, ticket, post)
        return Decision(recipient, Outcome.TICKET_CREATED, f"opened ticket #{ticket.id}", ticket.id,
                        loop_event=Event(ticket.id, proven=False, held=False))

    def _forward_invite(self, session: Session, mail: ParsedMail, recipient: str, route: InviteRoute,
                        now: datetime) -> Decision:
        ticket = session.get(Ticket, route.ticket)
        staff = session.get(Account, route.account)
        if ticket is None or staff is None:
            raise Refused(Reason.NO_SUCH_TICKET, "This invite address is no longer in use.")
        self._require_sender_is(mail, staff)
        invitees = self._invitees(mail, staff)
        results: list[InviteResult] = []
        for address in invitees:
            try:
                with session.begin_nested():
                    delegate = invite(session, self.outbox, ticket, address, staff, now=now, policy=self.invites)
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
        return Decision(recipient, Outcome.INVITED, summary, ticket.id)

    def _invitees(self, mail: ParsedMail, staff: Account) -> list[str]:
        """Addresses the staff member wrote above the forwarded part; else the forwarded mail's sender."""
        forward = split_forward(mail)

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

    def _notice_refused_parts(self, session: Session, mail: ParsedMail, decisions: list[Decision]) -> None:
        """When one message was accepted for some recipients and refused for others, tell the sender."""
        refused = [d for d in decisions if d.outcome == Outcome.REFUSED]
        if not refused or len(refused) == len(decisions) or len(mail.from_addresses) != 1:
            return
        account = find_account(session, mail.from_addresses[0])
        if account is not None:
            self.outbox.refusal_notice(session, account, mail.subject, [(d.recipient, d.told) for d in refused])


def _proven(route) -> bool:
    """Mail to a reply or invite address proves who sent it (only they hold it); the support address does not."""
    return isinstance(route, (ReplyRoute, InviteRoute))
