"""The kinds of message the gateway sends, each with what it implies for sending, in one place.

A kind's name is the `kind` of its outbox rows, the name of its templates (templates/<name>.*.j2)
and the start of its Message-IDs (parsers.addresses.AddressBook makes them, and knows them when the
gateway's own mail comes back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    post_copy: bool = False  # one of a post's copies: they share one rendering
    shows_thread: bool = False  # shows the ticket's posts: it leaves only while its recipient has access
    while_invited: bool = False  # it leaves only while its invitation is open
    answerable: bool = True  # carries its recipient's reply address to the ticket


POST = Kind("post", post_copy=True, shows_thread=True)
TICKET_OPENED = Kind("ticket_opened", post_copy=True, shows_thread=True)
NEW_TICKET_ALERT = Kind("new_ticket_alert", post_copy=True, shows_thread=True)
ACCEPTED = Kind("accepted", shows_thread=True)  # the thread so far, to a delegate who just accepted
INVITE = Kind("invite", while_invited=True)
ACK = Kind("ack")
INVITE_CONFIRMATION = Kind("invite_confirmation")
HELD = Kind("held")
DELIVERY_STOPPED = Kind("delivery_stopped", answerable=False)
NOTICE = Kind("notice", answerable=False)

KINDS = {kind.name: kind for kind in (POST, TICKET_OPENED, NEW_TICKET_ALERT, ACCEPTED, INVITE, ACK,
                                      INVITE_CONFIRMATION, HELD, DELIVERY_STOPPED, NOTICE)}


def names(where: Callable[[Kind], bool]) -> frozenset[str]:
    """The names of the kinds `where` holds for, as a query over outbox rows needs them."""
    return frozenset(name for name, kind in KINDS.items() if where(kind))
