"""The way of one inbound message, shared by SMTP and IMAP.

parse -> classify (outside the transaction) -> store the raw message -> read it for its sender ->
the rules and actions (gateway/intake/chain.py) -> notices -> one outcome per recipient. The raw
message, every recipient's outcome and everything the message caused (posts, invitations, outbox
rows) are written in one savepoint of a group commit (storage.group_commit), which commits the
messages of concurrent sessions together; the caller answers the sender only after that commit.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from gateway.domain.errors import Reason, Refused, StorageUnavailable
from gateway.intake.arrival import ACTING, Arrival, Decision, refused
from gateway.intake.chain import Chain
from gateway.intake.inbound import DedupeKeys, Inbound, person_with_access
from gateway.intake.loop_breaker import LoopBreaker
from gateway.intake.notices import Notices
from parsers.classify import Kind, classify
from parsers.content import reply_content
from parsers.mime import MalformedMessage, ParsedMail, body_bytes, parse_message
from storage.db import STORAGE_DOWN
from storage.group_commit import GroupCommit
from storage.models import InboundMessage, InboundOutcome, Outcome

log = logging.getLogger(__name__)



class Intake:
    def __init__(self, commits: GroupCommit, chain: Chain, notices: Notices, breaker: LoopBreaker,
                 clock: Callable[[], datetime]):
        self.commits = commits
        self.chain = chain
        self.notices = notices
        self.breaker = breaker
        self.clock = clock

    def process(self, raw: bytes, arrival: Arrival) -> list[Decision]:
        """Decide and commit. Raises StorageUnavailable when nothing could be recorded."""
        try:
            try:
                return self._record(raw, arrival)
            except sa_exc.IntegrityError:
                # a concurrent delivery of the same message committed first: decide again, as a duplicate
                return self._record(raw, arrival)
        except STORAGE_DOWN as exc:
            raise StorageUnavailable(str(exc.__class__.__name__)) from exc
        except Exception as exc:  # a bug must not lose the message: keep it for staff
            log.exception("intake failed; message held")
            return self._hold(raw, arrival, exc)

    def _record(self, raw: bytes, arrival: Arrival) -> list[Decision]:
        try:
            mail = parse_message(raw)
        except MalformedMessage as exc:
            return self._record_unreadable(raw, arrival, exc)
        # what needs no database is done before the transaction: on SQLite it holds the one write lock
        kind = classify(mail, arrival.sender)
        # what the message's structure alone says: it decides for the people the gateway knows
        declared = classify(mail, arrival.sender, wording=False) if kind.kind != Kind.POST else kind
        content = reply_content(mail) if declared.kind == Kind.POST else None
        body = hashlib.sha256(body_bytes(raw)).hexdigest()
        now = self.clock()

        def record(session: Session) -> list[Decision]:
            inbound = self._store_raw(session, raw, arrival, mail, now)
            person = (person_with_access(session, mail, arrival.recipients, now)
                      if kind.kind != Kind.POST and not arrival.to_bounce_address else None)
            message = Inbound(session, inbound, mail, arrival, reading=declared if person else kind, person=person,
                              content=content, keys={r.address: _dedupe_keys(inbound, body, mail, r.address)
                                                     for r in arrival.recipients}, now=now)
            decisions = self.chain.decide(message)
            self.notices.tell(message, decisions)
            self._record_outcomes(session, inbound, decisions, message.keys, now)
            return decisions
        return self.commits.run(record)

    def _record_unreadable(self, raw: bytes, arrival: Arrival, error: MalformedMessage) -> list[Decision]:
        refusal = Refused(Reason.MALFORMED, f"The message could not be read: {error}.")
        now = self.clock()

        def record(session: Session) -> list[Decision]:
            inbound = self._store_raw(session, raw, arrival, None, now)
            decisions = [refused(r, refusal) for r in arrival.recipients]
            self._record_outcomes(session, inbound, decisions, {}, now)
            return decisions
        return self.commits.run(record)

    def _record_outcomes(self, session: Session, inbound: InboundMessage, decisions: list[Decision],
                         keys: dict[str, DedupeKeys], now: datetime) -> None:
        session.flush()  # what the decisions made goes first: the outcomes point at it
        outcomes = []
        for decision in decisions:
            kept = keys[decision.recipient] if decision.outcome in ACTING else DedupeKeys(None, None)
            outcomes.append({"message_id": inbound.id, "recipient": decision.recipient,
                             "outcome": decision.outcome, "reason": decision.reason,
                             "ticket_id": decision.ticket_id, "dedupe_key": kept.by_message_id,
                             "content_key": kept.by_content})
        session.execute(insert(cast(Table, InboundOutcome.__table__)), outcomes)
        self.breaker.count(session, inbound.sender, [d.loop_event for d in decisions if d.loop_event], now)

    def _hold(self, raw: bytes, arrival: Arrival, error: Exception) -> list[Decision]:
        reason = f"held: processing failed ({type(error).__name__}); kept for staff to look at"

        def record(session: Session) -> list[Decision]:
            inbound = self._store_raw(session, raw, arrival, None, self.clock())
            decisions = [Decision(r.address, Outcome.HELD, reason) for r in arrival.recipients]
            session.add_all(InboundOutcome(message_id=inbound.id, recipient=d.recipient, outcome=d.outcome,
                                           reason=d.reason) for d in decisions)
            session.flush()
            return decisions
        try:
            return self.commits.run(record)
        except Exception as exc:
            raise StorageUnavailable(type(exc).__name__) from exc

    @staticmethod
    def _store_raw(session: Session, raw: bytes, arrival: Arrival, mail: ParsedMail | None,
                   now: datetime) -> InboundMessage:
        inbound = InboundMessage(
            received_at=now, channel=arrival.channel, envelope_sender=arrival.sender,
            message_id=mail.message_id if mail else None,
            sender=mail.from_addresses[0] if mail and mail.from_addresses else None,
            subject=mail.subject if mail else None,
            sha256=hashlib.sha256(raw).hexdigest(), raw=raw,
        )
        session.add(inbound)
        session.flush()
        return inbound


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
