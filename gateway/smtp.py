"""The inbound SMTP listener: an aiosmtpd handler.

RCPT refuses, cheaply and for certain, what the gateway does not serve. DATA runs the pipeline
in a worker thread (the event loop never waits on the database) and answers only after the
commit: 250 for anything recorded, 550 with the reason when every recipient was refused by a
rule, 451 when storage is unavailable so that the sending server retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.errors import StorageUnavailable, smtp_refusal
from gateway.pipeline import Decision, Delivery, Intake
from parsers.addresses import AddressBook, redact
from storage.models import Outcome

log = logging.getLogger(__name__)

TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, please try again later"


def reply_for(decisions: list[Decision]) -> str:
    refused = [d for d in decisions if d.outcome == Outcome.REFUSED]
    if decisions and len(refused) == len(decisions) and refused[0].refusal is not None:
        return smtp_refusal(refused[0].refusal)
    summary = ", ".join(sorted({d.outcome.value for d in decisions if d.outcome != Outcome.REFUSED}))
    return f"250 2.0.0 OK: {summary}"


class GatewayHandler:
    def __init__(self, intake: Intake, addresses: AddressBook, max_recipients: int,
                 after_commit: Callable[[], None]):
        self.intake = intake
        self.addresses = addresses
        self.max_recipients = max_recipients
        self.after_commit = after_commit

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return "452 4.5.3 Too many recipients"
        if self.addresses.route(address) is None:
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        delivery = Delivery(sender=envelope.mail_from, recipients=tuple(envelope.rcpt_tos), channel="smtp")
        try:
            decisions = await asyncio.to_thread(self.intake.process, raw, delivery)
        except StorageUnavailable as exc:
            log.error("storage unavailable, answered 451: %s", exc)
            return TEMPORARY_FAILURE
        self.after_commit()
        reply = reply_for(decisions)
        log.info("message from %s to %s: %s", redact(envelope.mail_from or "<>"),
                 ", ".join(map(redact, envelope.rcpt_tos)), reply)
        return reply

    async def handle_exception(self, error: Exception) -> str:
        log.exception("SMTP session error", exc_info=error)
        return TEMPORARY_FAILURE


def smtp_factory(handler: GatewayHandler, max_message_bytes: int, hostname: str) -> Callable[[], SMTP]:
    def make() -> SMTP:
        return SMTP(handler, data_size_limit=max_message_bytes, enable_SMTPUTF8=True, decode_data=False,
                    hostname=hostname, ident="ticket-gateway", timeout=300)
    return make
