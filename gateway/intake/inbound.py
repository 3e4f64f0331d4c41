"""One message on its way through the intake rules, and each recipient as the rules see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.domain.access import access_of
from gateway.domain.accounts import find_account
from gateway.intake.arrival import Arrival
from parsers.addresses import InviteRoute, ReplyRoute, Served, SupportRoute
from parsers.classify import Classification
from parsers.content import Content
from parsers.mime import ParsedMail
from storage.models import Account, InboundMessage, Ticket


@dataclass(frozen=True)
class DedupeKeys:
    """What makes a later delivery of this message to one recipient a duplicate (either key)."""

    by_message_id: str | None
    by_content: str | None


@dataclass(frozen=True)
class Inbound:
    """A parsed message in its transaction: the rules read it, the actions act on it."""

    session: Session
    record: InboundMessage  # the stored raw message
    mail: ParsedMail
    arrival: Arrival
    reading: Classification  # what the message is, as the gateway reads it for its sender
    person: str | None  # the From address when it may post where the message went (see person_with_access)
    content: Content | None  # read for every message that may post
    keys: dict[str, DedupeKeys]  # by recipient address
    now: datetime

    @property
    def sender(self) -> str | None:
        """The single From address, or None when there is none or more than one."""
        return self.mail.from_addresses[0] if len(self.mail.from_addresses) == 1 else None


@dataclass(frozen=True)
class Target:
    """One recipient, with what its address names: the ticket and account of a reply or invite
    address, or for the support address the account of the message's sender."""

    recipient: Served
    ticket: Ticket | None
    account: Account | None


def target_of(session: Session, mail: ParsedMail, recipient: Served) -> Target:
    route = recipient.route
    if isinstance(route, (ReplyRoute, InviteRoute)):
        return Target(recipient, session.get(Ticket, route.ticket), session.get(Account, route.account))
    sender = mail.from_addresses[0] if isinstance(route, SupportRoute) and len(mail.from_addresses) == 1 else None
    return Target(recipient, None, find_account(session, sender) if sender else None)


def person_with_access(session: Session, mail: ParsedMail, recipients: tuple[Served, ...], now: datetime) -> str | None:
    """The From address, when it is an account that may post where the message went: the owner
    of the reply address with access to its ticket, the staff member of the invite address, or
    a client writing to the support address. Their words and name never make their mail automatic."""
    if len(mail.from_addresses) != 1:
        return None
    sender = mail.from_addresses[0]
    for recipient in recipients:
        target = target_of(session, mail, recipient)
        route, account, ticket = recipient.route, target.account, target.ticket
        if isinstance(route, (ReplyRoute, InviteRoute)):
            if account is None or ticket is None or account.email != sender:
                continue
            if access_of(session, ticket, account, now).allowed and (
                    isinstance(route, ReplyRoute) or account.role.is_staff):
                return sender
        elif isinstance(route, SupportRoute) and account is not None and not account.role.is_staff:
            return sender
    return None
