"""A stored message run through the intake again, after a fix: held (processing failed) or refused.
The arrival is rebuilt from the record (its channel, envelope sender and the recipients of its
outcomes, each read again by the address book); the pipeline records a new message with one new
outcome per recipient, and its dedupe keeps a message that already acted from acting twice."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.errors import Reason, Refused
from gateway.intake.arrival import ACTING, Arrival, Decision
from parsers.addresses import AddressBook
from storage.models import InboundMessage, InboundOutcome

if TYPE_CHECKING:  # the intake itself is built only by the command that replays (gateway.services.intake_of)
    from gateway.intake.pipeline import Intake


def replay(intake: Intake, sessions: sessionmaker[Session], addresses: AddressBook, inbound_id: int) -> list[Decision]:
    with sessions() as session:
        inbound = stored_message(session, inbound_id)
        acted = session.scalars(select(InboundOutcome.id).join(InboundMessage).where(
            InboundMessage.sha256 == inbound.sha256, InboundOutcome.outcome.in_(ACTING))).first()
        if acted is not None:
            raise Refused(Reason.ALREADY_ACTED, f"inbound message {inbound_id} has already acted (outcome {acted}); "
                                            "replaying it would post it again")
        if not inbound.raw:
            raise Refused(Reason.RAW_PURGED, f"the raw bytes of inbound message {inbound_id} were purged")
        recipients = tuple(served for served in (addresses.served(o.recipient) for o in inbound.outcomes) if served)
        if not recipients:
            raise Refused(Reason.NO_SUCH_MESSAGE, f"inbound message {inbound_id} has no recipient the gateway serves now")
        raw, arrival = inbound.raw, Arrival(inbound.envelope_sender, recipients, inbound.channel, answers_sender=False)
    return intake.process(raw, arrival)


def stored_message(session: Session, inbound_id: int) -> InboundMessage:
    inbound = session.get(InboundMessage, inbound_id)
    if inbound is None:
        raise Refused(Reason.NO_SUCH_MESSAGE, f"no inbound message {inbound_id}")
    return inbound

