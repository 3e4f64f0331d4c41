"""Tickets and posts: opening, posting (with the status rules), closing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.access import require_post_access
from gateway.domain.errors import Reason, Refused
from gateway.domain.events import Events, PostAdded, TicketOpened
from gateway.domain.plain_text import one_line
from storage.models import Account, Attachment, Post, PostSource, Role, Ticket, TicketStatus

MAX_SUBJECT = 200


@dataclass(frozen=True)
class NewAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None  # only when the post's HTML shows it inline


@dataclass(frozen=True)
class NewPost:
    """What someone wrote, before it becomes a Post."""

    body: str
    source: PostSource
    trimmed: str = ""
    html: str | None = None
    inbound_id: int | None = None
    email_message_id: str | None = None
    attachments: Sequence[NewAttachment] = field(default=())


def get_ticket(session: Session, number: int) -> Ticket:
    ticket = session.get(Ticket, number)
    if ticket is None:
        raise Refused(Reason.NO_SUCH_TICKET, f"There is no ticket #{number}.")
    return ticket


def list_tickets(session: Session) -> list[Ticket]:
    return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def posts_of(session: Session, ticket: Ticket) -> list[Post]:
    return list(session.scalars(select(Post).where(Post.ticket_id == ticket.id).order_by(Post.id)))


def clean_subject(subject: str) -> str:
    subject = one_line(subject or "")
    return subject[:MAX_SUBJECT] or "(no subject)"


def open_ticket(session: Session, events: Events, *, owner: Account, creator: Account, subject: str,
                first_post: NewPost) -> tuple[Ticket, Post]:
    """A new ticket owned by a client, with its first post (TicketOpened)."""
    if owner.role != Role.CLIENT:
        raise Refused(Reason.INVALID_INPUT, f"{owner.email} is not a client account; tickets are owned by clients.")
    if creator.id != owner.id and not creator.role.is_staff:
        raise Refused(Reason.NOT_STAFF, "Only staff and admins can open a ticket for someone else.")
    if not first_post.body.strip():
        raise Refused(Reason.NOTHING_NEW, "A ticket needs a first message with some text.")
    ticket = Ticket(subject=clean_subject(subject), owner_id=owner.id, creator_id=creator.id,
                    status=TicketStatus.OPEN, owner=owner, creator=creator)
    session.add(ticket)
    session.flush()
    post = _store_post(session, ticket, creator, first_post)
    events.record(session, TicketOpened(ticket, post))
    return ticket, post


def add_post(session: Session, events: Events, ticket: Ticket, author: Account, new: NewPost,
             now: datetime) -> Post:
    """A post by someone with access (PostAdded); sets the ticket's status."""
    require_post_access(session, ticket, author, now)
    if not new.body.strip():
        raise Refused(Reason.NOTHING_NEW, "Nothing new in your reply: it only quotes earlier messages.")
    ticket.status = TicketStatus.AWAITING_CLIENT if author.role.is_staff else TicketStatus.CLIENT_REPLIED
    post = _store_post(session, ticket, author, new)
    events.record(session, PostAdded(ticket, post))
    return post


def close_ticket(session: Session, ticket: Ticket, by: Account) -> None:
    if not (by.role.is_staff or by.id == ticket.owner_id):
        raise Refused(Reason.NOT_STAFF, "Only staff, admins or the ticket's owner can close it.")
    ticket.status = TicketStatus.CLOSED


def _store_post(session: Session, ticket: Ticket, author: Account, new: NewPost) -> Post:
    post = Post(
        ticket_id=ticket.id, author_id=author.id, author=author, body=new.body.strip("\n"), html=new.html,
        trimmed=new.trimmed, source=new.source, inbound_id=new.inbound_id,
        email_message_id=new.email_message_id,
        attachments=[Attachment(filename=a.filename, content_type=a.content_type, size=len(a.data), data=a.data,
                                content_id=a.content_id) for a in new.attachments],
    )
    session.add(post)
    session.flush()
    return post
