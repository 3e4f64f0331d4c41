"""An outbox row becomes a message when it is sent: rendered from the stored data, its Message-ID
and its `created_at` (the Date), so that a copy sent again is the same message.

A post's copies share everything below their header. That part (an "edition": subject, text and
HTML, attachments) is rendered once per post and kind and kept while its copies go out; per
recipient only the header is built (name, address, Reply-To, Message-ID). Staff copies differ in the
footer, which names their own invite address, so each staff member has an edition of their own.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, selectinload

from gateway.domain.accounts import name_from_address
from gateway.outbox.compose import EncodedAttachments, Head, OutboundAttachment, build_body, build_head, \
    encode_attachments
from gateway.config import Settings
from gateway.outbox import kinds
from gateway.outbox.render import Renderer
from parsers.addresses import AddressBook, LinkSigner, normalize
from storage.models import Account, Attachment, Delegate, OutboxMessage, Post, Ticket

log = logging.getLogger(__name__)

# what compose() reads of each outbox row
ROW_COLUMNS = (OutboxMessage.id, OutboxMessage.kind, OutboxMessage.ticket_id, OutboxMessage.post_id,
               OutboxMessage.delegate_id, OutboxMessage.recipient_id, OutboxMessage.recipient,
               OutboxMessage.message_id, OutboxMessage.details, OutboxMessage.created_at)
_KEPT_POSTS = 32  # posts whose editions stay rendered (a post's attachments are held encoded with it)


class Unsendable(Exception):
    """A row that can never go out as it is (its message says why)."""


@dataclass(frozen=True)
class Copy:
    """One message, ready for the relay."""

    id: int
    kind: str
    recipient: str
    message_id: str
    raw: bytes


@dataclass(frozen=True)
class _PostView:
    """What the templates show of a post, kept apart from the session (and from attachment bytes)."""

    author: SimpleNamespace
    body: str
    html: str | None
    created_at: datetime
    attachments: tuple[SimpleNamespace, ...]


@dataclass
class _Post:
    id: int
    view: _PostView
    author_name: str
    sent: EncodedAttachments  # the attachments every copy carries (none when too large to send to all)
    editions: dict[tuple, tuple[str, bytes]]  # (kind, invite address, can reply) -> (subject, body)


class Letters:
    def __init__(self, settings: Settings, addresses: AddressBook, links: LinkSigner, renderer: Renderer):
        self.settings = settings
        self.addresses = addresses
        self.links = links
        self.renderer = renderer
        self._posts: OrderedDict[int, _Post] = OrderedDict()
        self._lock = threading.Lock()

    def compose(self, session: Session, rows: Sequence[Row]) -> tuple[list[Copy], list[tuple[int, str]]]:
        """Messages for claimed outbox rows (their ROW_COLUMNS), reading what they need in a few queries; and the
        rows that cannot go, with why (an address the relay cannot take, a bug, data gone), so that they
        do not block the rest."""
        tickets = _by_id(session, Ticket, {r.ticket_id for r in rows})
        people = _by_id(session, Account, {r.recipient_id for r in rows})
        copies: list[Copy] = []
        failed: list[tuple[int, str]] = []
        for row in rows:
            try:
                copies.append(self._compose(session, row, tickets.get(row.ticket_id), people.get(row.recipient_id)))
            except Unsendable as exc:
                log.warning("outbox #%s (%s) cannot be sent: %s", row.id, row.kind, exc)
                failed.append((row.id, str(exc)))
            except Exception as exc:
                log.exception("outbox #%s (%s) could not be rendered", row.id, row.kind)
                failed.append((row.id, f"could not be rendered: {type(exc).__name__}: {exc}"))
        return copies, failed

    def _compose(self, session: Session, row: Row, ticket: Ticket | None, account: Account | None) -> Copy:
        to_address = normalize(row.recipient)  # a row from before addresses were normalized: its domain as A-labels
        if not to_address.isascii():
            raise Unsendable(f"{row.recipient} cannot be sent to: the part before the @ is not ASCII (or the domain "
                             "is not a valid name), and the gateway does not send with SMTPUTF8")
        recipient = account or SimpleNamespace(id=None, email=row.recipient, role=None,
                                               name=(row.details or {}).get("recipient_name")
                                               or name_from_address(row.recipient))
        kind = kinds.KINDS[row.kind]
        reply_to = (self.addresses.reply_address(ticket.id, account.id)
                    if ticket is not None and account is not None and kind.answerable else None)
        can_reply = reply_to is not None
        invite_address = (self.addresses.invite_address(ticket.id, account.id)
                          if ticket is not None and account is not None and account.role.is_staff else None)
        from_name = self.settings.store_name
        if kind.post_copy:
            assert ticket is not None  # a post's copies belong to its ticket
            post = self._post(session, row.post_id)
            from_name = f"{post.author_name} via {self.settings.store_name}"
            subject, body = self._edition(post, row.kind, ticket, can_reply, invite_address)
        else:
            subject, body = self._letter(session, row, ticket, recipient, can_reply, invite_address)
        root = f"ticket-{ticket.id}@{self.addresses.domain}" if ticket is not None else None
        head = build_head(Head(
            from_name=from_name,
            from_address=self.addresses.support_address,
            to_name=recipient.name,
            to_address=to_address,
            subject=subject,
            message_id=row.message_id,
            date=row.created_at,
            reply_to=reply_to,
            in_reply_to=root,
            references=(root,) if root else (),
            extra_headers=(
                ("Auto-Submitted", "auto-generated"),
                ("X-Auto-Response-Suppress", "All"),
                ("List-Id", f"{self.settings.store_name} tickets <tickets.{self.addresses.domain}>"),
            ),
        ))
        return Copy(row.id, row.kind, to_address, row.message_id, head + body)

    # --- copies of a post ----------------------------------------------------------------

    def _post(self, session: Session, post_id: int) -> _Post:
        with self._lock:  # each relay connection composes on a thread of its own
            kept = self._posts.get(post_id)
            if kept is not None:
                self._posts.move_to_end(post_id)
                return kept
        post = session.scalars(select(Post).where(Post.id == post_id)
                               .options(selectinload(Post.author), selectinload(Post.attachments))).one()
        sent = tuple(OutboundAttachment(a.filename, a.content_type, a.data, a.content_id) for a in post.attachments)
        if sum(len(a.data) for a in sent) > self.settings.max_relay_attachments_bytes:
            sent = ()  # too large to send to everyone: the text lists them by name and size
        kept = _Post(id=post_id, view=_view(post), author_name=post.author.name, sent=encode_attachments(sent), editions={})
        with self._lock:
            self._posts[post_id] = kept
            while len(self._posts) > _KEPT_POSTS:
                self._posts.popitem(last=False)
        return kept

    def _edition(self, post: _Post, kind: str, ticket: Ticket, can_reply: bool,
                 invite_address: str | None) -> tuple[str, bytes]:
        key = (kind, invite_address, can_reply)
        edition = post.editions.get(key)
        if edition is None:
            rendered = self.renderer.email(kind, ticket=ticket, post=post.view, can_reply=can_reply,
                                           invite_address=invite_address, inline_images=bool(post.sent.inline))
            seed = f"{kind}.{post.id}.{invite_address}.{can_reply}"
            edition = rendered.subject, build_body(rendered.text, rendered.html, post.sent, seed)
            post.editions[key] = edition
        return edition

    # --- everything else: one message, one rendering -------------------------------------

    def _letter(self, session: Session, row: Row, ticket: Ticket | None, recipient, can_reply: bool,
                invite_address: str | None) -> tuple[str, bytes]:
        context = dict(row.details or {})
        if row.kind == kinds.ACK.name:
            context["post"] = _view(session.get_one(Post, row.post_id))
        elif row.kind == kinds.ACCEPTED.name:
            thread = select(Post).where(Post.ticket_id == row.ticket_id).order_by(Post.id)
            if row.post_id is not None:
                thread = thread.where(Post.id <= row.post_id)
            shown = (selectinload(Post.author), selectinload(Post.attachments).load_only(Attachment.filename, Attachment.size))
            context["posts"] = [_view(p) for p in session.scalars(thread.options(*shown))]
        elif row.kind == kinds.INVITE.name:
            delegate = session.get_one(Delegate, row.delegate_id)
            context.update(inviter=delegate.invited_by, expires_at=delegate.expires_at,
                           accept_url=f"{self.settings.base_url.rstrip('/')}/accept/"
                                      f"{self.links.accept_token(delegate.id)}")
        rendered = self.renderer.email(row.kind, ticket=ticket, recipient=recipient, can_reply=can_reply,
                                       invite_address=invite_address, **context)
        return rendered.subject, build_body(rendered.text, rendered.html, EncodedAttachments(), row.message_id)


def _view(post: Post) -> _PostView:
    return _PostView(
        author=SimpleNamespace(name=post.author.name, email=post.author.email), body=post.body, html=post.html,
        created_at=post.created_at,
        attachments=tuple(SimpleNamespace(filename=a.filename, size=a.size) for a in post.attachments))


def _by_id(session: Session, model, ids: set) -> dict:
    ids.discard(None)
    return {r.id: r for r in session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}
