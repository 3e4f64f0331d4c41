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
import unicodedata
import weakref
from collections import Counter
from collections.abc import Callable

from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.config import Settings
from gateway.domain.errors import StorageUnavailable, smtp_refusal
from gateway.intake.arrival import Arrival, Decision
from gateway.intake.pipeline import Intake
from parsers.addresses import AddressBook, Served, redact
from storage.models import Outcome

log = logging.getLogger(__name__)

TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, please try again later"
# RFC 5321 4.5.3.1.3: a reverse-path is at most 256 octets, its angle brackets included
MAX_PATH_OCTETS = 256


def sender_refusal(address: str, smtputf8: bool) -> str | None:
    """Why a MAIL FROM address cannot be taken (the reply), or None when it can."""
    if any(unicodedata.category(char) == "Cc" for char in address):
        return "553 5.1.7 The sender address contains control characters"
    if not address.isascii() and not smtputf8:
        return "553 5.6.7 A non-ASCII sender address needs the SMTPUTF8 parameter"
    try:
        octets = len(address.encode("utf-8"))
    except UnicodeEncodeError:  # aiosmtpd keeps bytes that are not UTF-8 as lone surrogates
        return "553 5.6.7 The sender address is not valid UTF-8"
    if octets + 2 > MAX_PATH_OCTETS:
        return f"501 5.1.7 The sender address is longer than {MAX_PATH_OCTETS - 2} octets"
    return None


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
        # each recipient as RCPT read it, for the transaction's envelope: DATA does not read it again
        self._served: weakref.WeakKeyDictionary[Envelope, list[Served]] = weakref.WeakKeyDictionary()

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        refusal = sender_refusal(address, envelope.smtp_utf8)
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return "452 4.5.3 Too many recipients"
        served = self.addresses.served(address)
        if served is None:
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(address)
        self._served.setdefault(envelope, []).append(served)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        arrival = Arrival(sender=envelope.mail_from, recipients=tuple(self._served.pop(envelope, ())), channel="smtp",
                          answers_sender=True)
        try:
            decisions = await asyncio.to_thread(self.intake.process, raw, arrival)
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
    """Open connections, in all and per client address: one client may not take every slot."""

    def __init__(self, limit: int, per_client: int):
        self.limit = limit
        self.per_client = per_client
        self.open = 0
        self.by_client: Counter[str] = Counter()

    def refusal(self, client: str) -> str | None:
        if self.open >= self.limit:
            return "421 4.7.0 Too many connections, try again later"
        if self.by_client[client] >= self.per_client:
            return "421 4.7.0 Too many connections from your address, try again later"
        return None

    def add(self, client: str) -> None:
        self.open += 1
        self.by_client[client] += 1

    def remove(self, client: str) -> None:
        self.open -= 1
        self.by_client[client] -= 1
        if not self.by_client[client]:
            del self.by_client[client]


def client_of(transport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) else str(peer)


class GatewaySMTP(SMTP):
    """Connection caps, and an idle timer that only commands moving a transaction on restart:
    a client sending nothing but NOOP, RSET, HELP, VRFY or EHLO is closed at the idle limit."""

    line_length_limit = LINE_LENGTH_LIMIT

    def __init__(self, handler: GatewayHandler, connections: ConnectionCount, **kwargs):
        super().__init__(handler, **kwargs)
        self._connections = connections
        self._client: str | None = None  # set while this connection is counted

    def connection_made(self, transport) -> None:
        if self.transport is None:  # a new connection, not STARTTLS's switch to TLS
            client = client_of(transport)
            refusal = self._connections.refusal(client)
            if refusal is not None:
                log.warning("connection cap reached; refusing %s: %s", client, refusal)
                transport.write(refusal.encode() + b"\r\n")
                transport.close()
                return
            self._connections.add(client)
            self._client = client
        super().connection_made(transport)

    def connection_lost(self, exc) -> None:
        if self._client is not None:
            self._connections.remove(self._client)
            self._client = None
        if self.session is not None:
            super().connection_lost(exc)

    def _reset_timeout(self, duration: float | None = None) -> None:
        # aiosmtpd restarts the timer before every command; here only connecting starts it
        if self._timeout_handle is None:
            super()._reset_timeout(duration)

    def _restart_idle_timer(self) -> None:
        super()._reset_timeout()

    async def _advancing(self, command) -> None:
        before = self._transaction()
        await command
        if self._transaction() != before:
            self._restart_idle_timer()

    def _transaction(self) -> tuple[str | None, int]:
        envelope = self.envelope
        return (envelope.mail_from, len(envelope.rcpt_tos)) if envelope is not None else (None, 0)

    async def smtp_MAIL(self, arg: str | None) -> None:
        await self._advancing(super().smtp_MAIL(arg))

    async def smtp_RCPT(self, arg: str | None) -> None:
        await self._advancing(super().smtp_RCPT(arg))

    async def smtp_DATA(self, arg: str) -> None:
        if self._transaction()[1]:  # the message's transfer and processing get the whole idle limit
            self._restart_idle_timer()
        await super().smtp_DATA(arg)


def tls_context(cert: str, key: str) -> ssl.SSLContext | None:
    if not (cert and key):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def smtp_factory(handler: GatewayHandler, settings: Settings) -> Callable[[], SMTP]:
    connections = ConnectionCount(settings.max_connections, settings.max_connections_per_client)
    context = tls_context(settings.smtp_tls_cert, settings.smtp_tls_key)

    def make() -> SMTP:
        return GatewaySMTP(handler, connections, data_size_limit=settings.max_message_bytes,
                           enable_SMTPUTF8=True, decode_data=False, hostname=settings.mail_domain,
                           ident="ticket-gateway", timeout=settings.smtp_timeout, tls_context=context,
                           command_call_limit=COMMAND_CALL_LIMITS)
    return make
