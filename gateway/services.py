"""What the commands work with, built from the settings without a listener or a scheduler: the database,
the address book and link signer, the outbox, deliverability, the invite policy, the clock. The serving
process (gateway.app.Gateway) builds on it; every `gateway` command but serve gets only this (gateway.main),
so that none of them loads aiosmtpd, aiohttp or APScheduler."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from datetime import datetime

from gateway.config import Settings, secret_key_bytes
from gateway.domain.delegates import InvitePolicy
from gateway.outbox.deliverability import Deliverability
from gateway.outbox.queue import Outbox
from parsers.addresses import AddressBook, LinkSigner
from storage.db import make_engine, make_sessionmaker, writers
from storage.models import utcnow

if TYPE_CHECKING:
    from gateway.intake.loop_breaker import LoopBreaker
    from gateway.intake.pipeline import Intake


class Services:
    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utcnow, create_key: bool = True):
        self.settings = settings
        self.clock = clock
        key = secret_key_bytes(settings, create=create_key)  # the commands (gateway.main) only read it
        self.engine = make_engine(settings.database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.addresses = AddressBook(key, settings.mail_domain, settings.support)
        self.links = LinkSigner(key)
        self.outbox = Outbox(settings, self.addresses, clock)
        self.deliverability = Deliverability(self.outbox, settings)
        self.invites = InvitePolicy(settings.invite_ttl, settings.create_invitee_accounts)


def intake_of(services: Services) -> tuple[Intake, LoopBreaker]:
    """The intake and its loop breaker over the services, as the serving process and `inbound replay` use them.
    Imported here, not at the top: the other commands need none of it (parsing, classifying, trimming)."""
    from gateway.intake.actions import Actions
    from gateway.intake.chain import intake_chain
    from gateway.intake.loop_breaker import LoopBreaker
    from gateway.intake.notices import Notices
    from gateway.intake.pipeline import Intake
    from storage.group_commit import GroupCommit

    settings = services.settings
    breaker = LoopBreaker(settings)
    actions = Actions(services.outbox, services.invites, settings, services.addresses)
    intake = Intake(GroupCommit(services.sessions, slots=writers(services.engine)),
                    intake_chain(services.addresses, services.deliverability, breaker, settings, actions),
                    Notices(services.outbox, settings.imap_notice_limit, settings.imap_notice_window),
                    breaker, services.clock)
    return intake, breaker
