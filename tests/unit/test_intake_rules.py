"""Each intake rule on a parsed message and a session, without SMTP (gateway/intake/rules.py), and
the chain's order (gateway/intake/chain.py)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from gateway.config import load_settings
from gateway.domain.accounts import add_account
from gateway.domain.errors import Reason
from gateway.domain.tickets import NewPost, open_ticket
from gateway.intake.arrival import Arrival
from gateway.intake.chain import intake_chain
from gateway.intake.inbound import DedupeKeys, Inbound, person_with_access, target_of
from gateway.intake.actions import Actions
from gateway.intake.loop_breaker import LoopBreaker
from gateway.intake.rules import (
    AddressInUse,
    AutomaticReply,
    DeliveryReport,
    Duplicate,
    LoopBreakerRule,
    OneFromAddress,
    OwnMail,
    SenderOwnsAddress,
    StoreClient,
)
from gateway.services import Services
from parsers.classify import Kind, classify
from parsers.content import reply_content
from parsers.mime import parse_message
from storage.models import InboundMessage, InboundOutcome, LoopEvent, Outcome, OutboxMessage, OutboxStatus, \
    PostSource, Role
from tests.support import dsn, make_mail

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def services(tmp_path, sqlite_template):
    path = tmp_path / "gateway.db"
    shutil.copyfile(sqlite_template, path)
    settings = load_settings(environ={"GATEWAY_DATABASE_URL": f"sqlite:///{path}", "GATEWAY_MAIL_DOMAIN": "gw.test",
                                      "GATEWAY_SECRET_KEY": "unit-secret-key-0123456789abcdef0123456789",
                                      "GATEWAY_LOOP_SENDER_LIMIT": "2"})
    built = Services(settings, clock=lambda: NOW)
    yield built
    built.engine.dispose()


@pytest.fixture
def world(services):
    """A session with a client's ticket, a staff member and the addresses that reach them."""
    with services.sessions() as session:
        client = add_account(session, "carol@client.test", "Carol", Role.CLIENT)
        staff = add_account(session, "sam@store.test", "Sam", Role.STAFF)
        ticket, _ = open_ticket(session, services.outbox, owner=client, creator=staff, subject="Beans",
                                first_post=NewPost(body="Which blend?", source=PostSource.CLI))
        session.flush()
        yield _World(services, session, client, staff, ticket)


class _World:
    def __init__(self, services, session, client, staff, ticket):
        self.services, self.session, self.client, self.staff, self.ticket = services, session, client, staff, ticket
        book = services.addresses
        self.reply = book.served(book.reply_address(ticket.id, client.id))
        self.invite = book.served(book.invite_address(ticket.id, staff.id))
        self.support = book.served(book.support_address)

    def message(self, raw: bytes, *recipients, reading=None, person=None, sender="x@mx.client.test") -> Inbound:
        mail = parse_message(raw)
        record = InboundMessage(received_at=NOW, channel="smtp", sha256="0" * 64, raw=raw,
                                sender=mail.from_addresses[0] if mail.from_addresses else None)
        self.session.add(record)
        self.session.flush()
        kind = reading or classify(mail, sender)
        return Inbound(self.session, record, mail, Arrival(sender, tuple(recipients), "smtp", True), kind, person,
                       reply_content(mail) if kind.kind == Kind.POST else None,
                       {r.address: DedupeKeys(None, f"content-{r.address}") for r in recipients}, NOW)

    def target(self, message: Inbound, recipient):
        return target_of(self.session, message.mail, recipient)


def _check(rule, world, message, recipient):
    return rule.check(message, world.target(message, recipient))


# --- message rules ---------------------------------------------------------------------

def test_delivery_report_marks_the_copy_bounced_and_never_posts(world):
    row = world.session.query(OutboxMessage).filter_by(recipient=world.client.email).first()
    row.status = OutboxStatus.SENT
    bounce = world.services.addresses.served(world.services.addresses.bounce_address(row.id))
    message = world.message(dsn(bounce.address, world.client.email, "5.1.1"), bounce, sender="")
    decisions = DeliveryReport(world.services.deliverability).check(message)
    assert [d.outcome for d in decisions] == [Outcome.BOUNCE] and row.status == OutboxStatus.BOUNCED
    assert f"outbox #{row.id}" in decisions[0].reason
    assert DeliveryReport(world.services.deliverability).check(
        world.message(make_mail(world.client.email, world.reply.address), world.reply)) is None


def test_own_mail_is_a_loop(world):
    rule = OwnMail(world.services.addresses)
    from_us = world.message(make_mail(world.reply.address, world.reply.address), world.reply)
    assert [d.outcome for d in rule.check(from_us)] == [Outcome.AUTO_REPLY]
    assert "gateway's own addresses" in rule.check(from_us)[0].reason
    came_back = world.message(make_mail(world.client.email, world.reply.address,
                                        message_id=f"<post.{'a' * 32}.7@gw.test>"), world.reply)
    assert "came back" in rule.check(came_back)[0].reason
    assert rule.check(world.message(make_mail(world.client.email, world.reply.address), world.reply)) is None


def test_automatic_reply_is_recorded_and_names_a_person_with_access(world):
    raw = make_mail(world.client.email, world.reply.address, "Out of office", "I am away.",
                    headers={"Auto-Submitted": "auto-replied"})
    stranger = AutomaticReply().check(world.message(raw, world.reply))
    assert stranger[0].outcome == Outcome.AUTO_REPLY and stranger[0].ticket_id is None
    person = AutomaticReply().check(world.message(raw, world.reply, person=world.client.email))
    assert f"from {world.client.email}, who may post here" in person[0].reason
    assert person[0].ticket_id == world.ticket.id
    assert AutomaticReply().check(world.message(make_mail(world.client.email, world.reply.address),
                                                world.reply)) is None


def test_a_person_with_access_is_the_owner_of_the_reply_address(world):
    mail = parse_message(make_mail(world.client.email, world.reply.address))
    assert person_with_access(world.session, mail, (world.reply,), NOW) == world.client.email
    forged = parse_message(make_mail("mallory@else.test", world.reply.address))
    assert person_with_access(world.session, forged, (world.reply,), NOW) is None


# --- recipient rules -------------------------------------------------------------------

def test_duplicate_after_an_acting_delivery(world):
    message = world.message(make_mail(world.client.email, world.reply.address), world.reply)
    assert _check(Duplicate(), world, message, world.reply) is None
    world.session.add(InboundOutcome(message_id=message.record.id, recipient=world.reply.address,
                                     outcome=Outcome.POSTED, reason="post", ticket_id=world.ticket.id,
                                     content_key=f"content-{world.reply.address}"))
    decision = _check(Duplicate(), world, message, world.reply)
    assert decision.outcome == Outcome.DUPLICATE and decision.ticket_id == world.ticket.id
    assert f"inbound message #{message.record.id}" in decision.reason


def test_address_in_use_refuses_an_address_whose_ticket_is_gone(world):
    book = world.services.addresses
    gone = book.served(book.reply_address(world.ticket.id + 100, world.client.id))
    message = world.message(make_mail(world.client.email, gone.address), gone)
    decision = _check(AddressInUse(), world, message, gone)
    assert decision.outcome == Outcome.REFUSED and decision.refusal.reason == Reason.NO_SUCH_TICKET
    assert decision.told == "This reply address is no longer in use."
    assert _check(AddressInUse(), world, message, world.reply) is None
    assert _check(AddressInUse(), world, message, world.support) is None


@pytest.mark.parametrize("sender, reason", [("a@client.test, b@client.test", Reason.MULTIPLE_FROM),
                                            ("not an address", Reason.NO_SENDER)])
def test_one_from_address(world, sender, reason):
    message = world.message(make_mail(sender, world.reply.address), world.reply)
    assert _check(OneFromAddress(), world, message, world.reply).refusal.reason == reason


def test_sender_owns_address(world):
    forged = world.message(make_mail("mallory@else.test", world.reply.address), world.reply)
    assert _check(SenderOwnsAddress(), world, forged, world.reply).refusal.reason == Reason.SENDER_MISMATCH
    own = world.message(make_mail(world.client.email, world.reply.address), world.reply)
    assert _check(SenderOwnsAddress(), world, own, world.reply) is None
    staff_forward = world.message(make_mail(world.staff.email, world.invite.address), world.invite)
    assert _check(SenderOwnsAddress(), world, staff_forward, world.invite) is None


def test_store_client_tells_a_stranger_and_staff_the_same(world):
    stranger = world.message(make_mail("nobody@else.test", world.support.address), world.support)
    staff = world.message(make_mail(world.staff.email, world.support.address), world.support)
    refused_stranger = _check(StoreClient(False), world, stranger, world.support)
    refused_staff = _check(StoreClient(False), world, staff, world.support)
    assert refused_stranger.refusal.reason == Reason.UNKNOWN_SENDER
    assert refused_staff.refusal.reason == Reason.STAFF_TO_SUPPORT
    assert refused_stranger.told == refused_staff.told and refused_stranger.reason != refused_staff.reason
    client = world.message(make_mail(world.client.email, world.support.address), world.support)
    assert _check(StoreClient(False), world, client, world.support) is None
    assert _check(StoreClient(True), world, stranger, world.support) is None
    raw = f"From: jos\u00e9@else.test\r\nTo: {world.support.address}\r\nSubject: Hi\r\n\r\nHello\r\n".encode()
    unmailable = world.message(raw, world.support)
    assert _check(StoreClient(True), world, unmailable, world.support).refusal.reason == Reason.INVALID_INPUT


def test_loop_breaker_holds_over_the_limit_and_tells_staff_once(world):
    rule = LoopBreakerRule(LoopBreaker(world.services.settings))
    message = world.message(make_mail(world.client.email, world.reply.address), world.reply)
    assert _check(rule, world, message, world.reply) is None
    world.session.add_all(LoopEvent(sender=world.client.email, ticket_id=world.ticket.id, proven=True, held=False,
                                    at=NOW - timedelta(minutes=1)) for _ in range(2))
    held = _check(rule, world, message, world.reply)
    assert held.outcome == Outcome.HELD and held.tell_staff and held.loop_event.held
    world.session.add(LoopEvent(sender=world.client.email, ticket_id=world.ticket.id, proven=True, held=True, at=NOW))
    assert not _check(rule, world, message, world.reply).tell_staff
    # mail to the support address proves nothing: the customer's proven replies do not hold it
    support = world.message(make_mail(world.client.email, world.support.address), world.support)
    assert _check(rule, world, support, world.support) is None


# --- the chain ---------------------------------------------------------------------------

def test_the_chain_runs_the_rules_in_order_then_the_action(world):
    s = world.services
    breaker = LoopBreaker(s.settings)
    chain = intake_chain(s.addresses, s.deliverability, breaker, s.settings,
                         Actions(s.outbox, s.invites, s.settings, s.addresses))
    assert [r.name for r in chain.message_rules] == ["delivery-report", "own-mail", "automatic-reply"]
    assert [r.name for r in chain.recipient_rules] == [
        "duplicate", "address-in-use", "one-from-address", "sender-owns-address", "store-client", "loop-breaker"]
    # a forged reply to a gone address: address-in-use speaks before sender-owns-address
    book = s.addresses
    gone = book.served(book.reply_address(world.ticket.id + 100, world.client.id))
    forged = world.message(make_mail("mallory@else.test", f"{gone.address}, {world.reply.address}"),
                           gone, world.reply)
    reasons = [d.refusal.reason for d in chain.decide(forged)]
    assert reasons == [Reason.NO_SUCH_TICKET, Reason.SENDER_MISMATCH]
    posted = chain.decide(world.message(make_mail(world.client.email, world.reply.address, body="Ethiopia"),
                                        world.reply))
    assert posted[0].outcome == Outcome.POSTED and posted[0].ticket_id == world.ticket.id
    automatic = world.message(make_mail(world.client.email, world.reply.address), world.reply)
    automatic = replace(automatic, reading=replace(automatic.reading, kind=Kind.AUTO_REPLY))
    assert [d.outcome for d in chain.decide(automatic)] == [Outcome.AUTO_REPLY]
