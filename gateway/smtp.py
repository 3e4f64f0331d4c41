"""The inbound SMTP listener: an aiosmtpd handler.

RCPT refuses, cheaply and for certain, what the gateway does not serve. DATA runs the pipeline
in a worker thread (the event loop never waits on the database) and answers only after the
commit: 250 for anything recorded, 550 with the reason when every recipient was refused by a
rule, 451 when storage is unavailable so that the sending server retries.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.config import Settings
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


# Per connection. MAIL/RCPT/DATA/RSET are generous so that a server sending many messages over
# one connection is never cut off; anything else repeated this often is a misbehaving client.
COMMAND_CALL_LIMITS = {"MAIL": 10_000, "RCPT": 100_000, "DATA": 10_000, "RSET": 10_000, "*": 30}
# RFC 5321 asks for 1000-octet lines but real mailers send longer ones; refusing those would
# bounce customers' mail, so lines up to 64 KiB are taken and longer ones get "500 Line too long".
LINE_LENGTH_LIMIT = 64 * 1024


class ConnectionCount:
    def __init__(self, limit: int):
        self.limit = limit
        self.open = 0


class GatewaySMTP(SMTP):
    line_length_limit = LINE_LENGTH_LIMIT

    def __init__(self, handler: GatewayHandler, connections: ConnectionCount, **kwargs):
        super().__init__(handler, **kwargs)
        self._connections = connections
        self._counted = False

    def connection_made(self, transport) -> None:
        if self._connections.open >= self._connections.limit and self.transport is None:
            log.warning("connection cap of %d reached; refusing %s", self._connections.limit,
                        transport.get_extra_info("peername"))
            transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
            transport.close()
            return
        if not self._counted:
            self._connections.open += 1
            self._counted = True
        super().connection_made(transport)

    def connection_lost(self, exc) -> None:
        if self._counted:
            self._connections.open -= 1
            self._counted = False
        if self.session is not None:
            super().connection_lost(exc)


def tls_context(cert: str, key: str) -> ssl.SSLContext | None:
    if not (cert and key):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def smtp_factory(handler: GatewayHandler, settings: Settings) -> Callable[[], SMTP]:
    connections = ConnectionCount(settings.max_connections)
    context = tls_context(settings.smtp_tls_cert, settings.smtp_tls_key)

    def make() -> SMTP:
        return GatewaySMTP(handler, connections, data_size_limit=settings.max_message_bytes,
                           enable_SMTPUTF8=True, decode_data=False, hostname=settings.mail_domain,
                           ident="ticket-gateway", timeout=settings.smtp_timeout, tls_context=context,
                           command_call_limit=COMMAND_CALL_LIMITS)
    return make
