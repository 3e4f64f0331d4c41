"""Issue 5: a naive vacation responder and a second gateway, all answering each other through one
mail system, never make the outbox grow without end.

The "world" is a real SMTP server that both gateways use as their relay. It delivers mail for
gw.test to gateway A and for b.test to gateway B (each is the other's client: one store's
helpdesk writing to another's), and answers every message sent to away@client.test, the way
the worst vacation responders do: to the From address, with no automatic-mail header at all.
With `strips_headers`, the world also drops the headers by which the gateways mark their own
mail as automatic (as some forwarding services do), so only the loop breakers are left.
"""

from __future__ import annotations

import email
import email.policy
import queue
import smtplib
import threading
import time
from email.utils import make_msgid, parseaddr

import pytest
from aiosmtpd.controller import Controller

from support import RunningGateway, cli, free_port, outbox_count, wait_until

AWAY = "away@client.test"
AUTOMATIC_HEADERS = ("Auto-Submitted", "X-Auto-Response-Suppress", "List-Id", "Precedence")


class World:
    """The mail system between the parties: routes each message, and answers for the responder."""

    def __init__(self, strips_headers: bool):
        self.port = free_port()
        self.strips_headers = strips_headers
        self.routes: dict[str, int] = {}  # domain -> SMTP port
        self.carried = 0
        self.last_activity = time.monotonic()
        self._queue: queue.Queue = queue.Queue()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._worker = threading.Thread(target=self._work, daemon=True)

    def start(self) -> None:
        self._controller.start()
        self._worker.start()

    def stop(self) -> None:
        self._controller.stop()
        self._queue.put(None)
        self._worker.join(timeout=10)

    def quiet_for(self, seconds: float) -> bool:
        return self._queue.empty() and time.monotonic() - self.last_activity > seconds

    async def handle_DATA(self, server, session, envelope):
        self._queue.put((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 OK"

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            sender, recipients, raw = item
            self.carried += 1
            self.last_activity = time.monotonic()
            for recipient in recipients:
                self._deliver(sender, recipient, raw)

    def _deliver(self, sender: str, recipient: str, raw: bytes) -> None:
        if recipient.lower() == AWAY:
            self._queue.put(self._vacation_reply(raw))
            return
        port = self.routes.get(recipient.rsplit("@", 1)[1].lower())
        if port is None:
            return  # a mailbox outside the test: delivered, nothing answers
        if self.strips_headers:
            message = email.message_from_bytes(raw, policy=email.policy.SMTP)
            for name in AUTOMATIC_HEADERS:
                del message[name]
            raw = message.as_bytes()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            try:
                client.sendmail(sender, [recipient], raw)
            except smtplib.SMTPException:
                pass  # refused: the world would bounce it, to a null-sender-proof address

    @staticmethod
    def _vacation_reply(raw: bytes) -> tuple[str, list[str], bytes]:
        original = email.message_from_bytes(raw, policy=email.policy.SMTP)
        to = parseaddr(str(original["From"]))[1]
        reply = email.message.EmailMessage()
        reply["From"] = AWAY
        reply["To"] = to
        reply["Subject"] = f"Re: {original['Subject']}"
        reply["Message-ID"] = make_msgid(domain="client.test")
        reply["Date"] = email.utils.formatdate()
        reply.set_content("I am away until Monday and will read your message then.")
        return AWAY, [to], reply.as_bytes(policy=email.policy.SMTP)


def _outcomes(running: RunningGateway) -> list[tuple[str, str | None]]:
    from storage.models import InboundMessage, InboundOutcome

    with running.gateway.sessions() as session:
        rows = session.query(InboundOutcome, InboundMessage).join(
            InboundMessage, InboundOutcome.message_id == InboundMessage.id)
        return [(o.outcome.value, m.sender) for o, m in rows]


def _second_gateway(tmp_path, world: World, sender_limit: int) -> RunningGateway:
    from gateway.domain.accounts import add_account
    from gateway.app import Gateway
    from gateway.config import load_settings
    from storage.db import transaction, upgrade
    from storage.models import Role

    url = f"sqlite:///{tmp_path / 'b.db'}"
    upgrade(url)
    http_port = free_port()
    settings = load_settings(environ={
        "GATEWAY_DATABASE_URL": url, "GATEWAY_MAIL_DOMAIN": "b.test", "GATEWAY_STORE_NAME": "Partner Store",
        "GATEWAY_SMTP_PORT": str(free_port()), "GATEWAY_HTTP_PORT": str(http_port),
        "GATEWAY_BASE_URL": f"http://127.0.0.1:{http_port}", "GATEWAY_RELAY_HOST": "127.0.0.1",
        "GATEWAY_RELAY_PORT": str(world.port), "GATEWAY_SECRET_KEY": "b-gateway-secret-key-0123456789abcdef",
        "GATEWAY_DELIVERY_INTERVAL": "1", "GATEWAY_LOOP_SENDER_LIMIT": str(sender_limit),
        "GATEWAY_OUTBOX_DIR": str(tmp_path / "b-outbox"),
    })
    running = RunningGateway(Gateway(settings))
    with transaction(running.gateway.sessions) as session:
        add_account(session, "support@gw.test", "Bean Store helpdesk", Role.CLIENT)
        add_account(session, "bob@b.test", "Bob Partner", Role.STAFF)
    running.start()
    return running


@pytest.mark.timeout(240)
@pytest.mark.parametrize("strips_headers", [False, True], ids=["headers-kept", "headers-stripped"])
def test_a_vacation_responder_and_a_second_gateway_leave_the_outbox_flat(gateway_with, tmp_path, strips_headers):
    limit = 5
    world = World(strips_headers)
    world.start()
    a = gateway_with(relay_port=world.port, loop_sender_limit=limit)
    b = _second_gateway(tmp_path, world, limit)
    try:
        world.routes = {"gw.test": a.settings.smtp_port, "b.test": b.settings.smtp_port}
        for email_, name, role in (("sam@store.test", "Sam Staff", "staff"),
                                   ("support@b.test", "Partner helpdesk", "client"),
                                   (AWAY, "Al Away", "client")):
            assert cli("account", "add", email_, "--name", name, "--role", role).code == 0
        # staff write to the partner's helpdesk and to the client who is away
        for owner in ("support@b.test", AWAY):
            assert cli("ticket", "create", "--owner", owner, "--by", "sam@store.test", "--subject", "Your order",
                       "--body", "Your order has shipped.").code == 0
        # and the client who is away once wrote to the support address themselves
        first = (f"From: {AWAY}\r\nTo: support@gw.test\r\nSubject: Question\r\n"
                 f"Message-ID: {make_msgid(domain='client.test')}\r\n\r\nWhere is my order?\r\n").encode()
        assert a.send(first, AWAY, "support@gw.test").code == 250

        wait_until(lambda: world.quiet_for(4), timeout=180, what="the mail system to fall quiet")
        settled = (outbox_count(a), outbox_count(b), world.carried)
        time.sleep(3)
        assert (outbox_count(a), outbox_count(b), world.carried) == settled  # flat: nothing answers anything any more

        on_a, on_b = _outcomes(a), _outcomes(b)
        # the responder's answers to the support address open tickets until the breaker holds them
        assert sum(o == ("ticket_created", AWAY) for o in on_a) == limit
        assert ("held", AWAY) in on_a
        if strips_headers:  # the two helpdesks open tickets at each other until both breakers trip
            # A's copy starts it, so B's breaker trips first and the chain ends there
            assert sum(o == ("ticket_created", "support@gw.test") for o in on_b) == limit
            assert ("held", "support@gw.test") in on_b
            assert sum(o == ("ticket_created", "support@b.test") for o in on_a) <= limit
        else:  # each marks its mail as automatic: the other records it and never answers
            assert on_b and all(outcome == "auto_reply" for outcome, _ in on_b)
            assert not any(sender == "support@b.test" for _, sender in on_a)
        assert world.carried < 6 * limit + 10
    finally:
        b.stop()
        world.stop()
