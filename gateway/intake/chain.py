"""The order of the intake rules, in one place, and the one way a message goes through them.

    message rules      delivery-report, own-mail, automatic-reply
                       the first that matches decides for every recipient
    recipient rules    duplicate, address-in-use, one-from-address, sender-owns-address,
                       store-client, loop-breaker
                       per recipient, in a savepoint: the first that matches decides for it
    action             none matched: the address's action (gateway/intake/actions.py); a refusal
                       from the domain undoes what the action began

A new rule is a class in gateway/intake/rules.py with a name and a check, placed in this order.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.config import Settings
from gateway.domain.errors import Refused
from gateway.intake.actions import Actions
from gateway.intake.arrival import Decision, refused
from gateway.intake.inbound import Inbound, target_of
from gateway.intake.loop_breaker import LoopBreaker
from gateway.intake.rules import (
    AddressInUse,
    AutomaticReply,
    DeliveryReport,
    Duplicate,
    LoopBreakerRule,
    MessageRule,
    OneFromAddress,
    OwnMail,
    RecipientRule,
    SenderOwnsAddress,
    StoreClient,
)
from gateway.outbox.deliverability import Deliverability
from parsers.addresses import AddressBook, Served


class Chain:
    def __init__(self, message_rules: Sequence[MessageRule], recipient_rules: Sequence[RecipientRule],
                 actions: Actions):
        self.message_rules = tuple(message_rules)
        self.recipient_rules = tuple(recipient_rules)
        self.actions = actions

    def decide(self, message: Inbound) -> list[Decision]:
        for rule in self.message_rules:
            decisions = rule.check(message)
            if decisions is not None:
                return decisions
        return [self._decide_for(message, recipient) for recipient in message.arrival.recipients]

    def _decide_for(self, message: Inbound, recipient: Served) -> Decision:
        try:
            with message.session.begin_nested():
                target = target_of(message.session, message.mail, recipient)
                for rule in self.recipient_rules:
                    decision = rule.check(message, target)
                    if decision is not None:
                        return decision
                return self.actions.act(message, target)
        except Refused as refusal:
            return refused(recipient, refusal)


def intake_chain(addresses: AddressBook, deliverability: Deliverability, breaker: LoopBreaker, settings: Settings,
                 actions: Actions) -> Chain:
    return Chain(
        message_rules=[DeliveryReport(deliverability), OwnMail(addresses), AutomaticReply()],
        recipient_rules=[Duplicate(), AddressInUse(), OneFromAddress(), SenderOwnsAddress(),
                         StoreClient(settings.create_sender_accounts), LoopBreakerRule(breaker)],
        actions=actions,
    )
