"""How a message reached the gateway, and what the gateway decided for each of its recipients."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.errors import Refused
from gateway.intake.loop_breaker import Event
from parsers.addresses import BounceRoute, Served
from storage.models import Outcome


# outcomes that changed something: the same message must never cause them twice
ACTING = (Outcome.POSTED, Outcome.TICKET_CREATED, Outcome.INVITED)


@dataclass(frozen=True)
class Arrival:
    """The SMTP envelope, or its IMAP equivalent. Each recipient is an address the gateway serves,
    read once by the channel that took it; an address named twice, in any spelling, is one recipient."""

    sender: str | None  # MAIL FROM; "" is the null sender, None unknown
    recipients: tuple[Served, ...]
    channel: str  # smtp | imap, as the record says
    answers_sender: bool  # the channel's own reply tells the sender a refusal (SMTP); else only a notice can

    def __post_init__(self) -> None:
        once: dict[str, Served] = {}
        for recipient in self.recipients:
            once.setdefault(recipient.address, recipient)
        object.__setattr__(self, "recipients", tuple(once.values()))

    @property
    def to_bounce_address(self) -> bool:
        """Sent to a bounce address: whatever it says, a delivery report."""
        return any(isinstance(r.route, BounceRoute) for r in self.recipients)


@dataclass(frozen=True)
class Decision:
    recipient: str
    outcome: Outcome
    reason: str
    ticket_id: int | None = None
    refusal: Refused | None = None
    loop_event: Event | None = None  # what the loop breaker counts of it
    tell_staff: bool = False  # a hold staff have not yet been told of

    @property
    def told(self) -> str:
        """The reason as the sender may hear it (`reason` is the record for staff)."""
        return self.refusal.text if self.refusal is not None else self.reason


def refused(recipient: Served, refusal: Refused) -> Decision:
    return Decision(recipient.address, Outcome.REFUSED, refusal.record, recipient.ticket, refusal=refusal)
