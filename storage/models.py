"""SQLAlchemy 2 models: the gateway's whole state. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    JSON,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# SQLite only auto-increments INTEGER PRIMARY KEY, PostgreSQL wants BIGINT for long-lived tables
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both backends (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class _Storable(TypeDecorator):
    """Text from outside (a header, the envelope, a user) made to fit on both databases: without NUL
    characters, which PostgreSQL cannot store, and cut to the column's length, which PostgreSQL
    enforces and SQLite does not. The raw message keeps the whole value; comparisons with a column
    of this type go through the same cut, so a long value still finds the row it was stored in."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if not isinstance(value, str):
            return value
        value = value.replace("\x00", "")
        length = self.impl.length
        return value[:length] if length else value


class CleanString(_Storable):
    impl = String
    cache_ok = True


class CleanText(_Storable):
    impl = Text
    cache_ok = True


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=20, validate_strings=True,
                values_callable=lambda members: [m.value for m in members])


class Role(enum.StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    CLIENT = "client"

    @property
    def is_staff(self) -> bool:
        return self in (Role.ADMIN, Role.STAFF)


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    AWAITING_CLIENT = "awaiting_client"
    CLIENT_REPLIED = "client_replied"
    CLOSED = "closed"


class DelegateStatus(enum.StrEnum):
    INVITED = "invited"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


class PostSource(enum.StrEnum):
    EMAIL = "email"
    CLI = "cli"
    API = "api"
    WEB = "web"


class Outcome(enum.StrEnum):
    POSTED = "posted"
    TICKET_CREATED = "ticket_created"
    INVITED = "invited"
    REFUSED = "refused"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    DUPLICATE = "duplicate"
    HELD = "held"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    BOUNCED = "bounced"
    SUPPRESSED = "suppressed"  # not sent: delivery to the address is stopped after bounces


class BounceSeverity(enum.StrEnum):
    HARD = "hard"  # the address cannot receive mail: one stops delivery
    SOFT = "soft"  # a failure that may pass (mailbox full, policy, unknown cause): repeated ones stop it


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lowercased
    name: Mapped[str] = mapped_column(CleanString(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Id, primary_key=True)  # the ticket number shown as #id
    subject: Mapped[str] = mapped_column(CleanString(998))
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    creator_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[TicketStatus] = mapped_column(_enum(TicketStatus, "ticket_status"), default=TicketStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[Account] = relationship(foreign_keys=[owner_id])
    creator: Mapped[Account] = relationship(foreign_keys=[creator_id])

    @property
    def is_active(self) -> bool:
        return self.status != TicketStatus.CLOSED


class Delegate(Base):
    """One invitation of one account to one ticket, and what became of it. Re-inviting makes a new row."""

    __tablename__ = "delegates"
    __table_args__ = (
        # at most one live invitation or acceptance per (ticket, account)
        Index("uq_delegates_live", "ticket_id", "account_id", unique=True,
              sqlite_where=text("status IN ('invited', 'accepted')"),
              postgresql_where=text("status IN ('invited', 'accepted')")),
        # one person's invitations to one ticket: access checks, a batch's at a time in delivery
        Index("ix_delegates_ticket_account", "ticket_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    status: Mapped[DelegateStatus] = mapped_column(_enum(DelegateStatus, "delegate_status"))
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    invited_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # revoked or expired
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))

    ticket: Mapped[Ticket] = relationship()
    account: Mapped[Account] = relationship(foreign_keys=[account_id])

    # "the invitation is open" and "it has run out", said once for a row in Python and for a query in SQL
    @hybrid_method
    def invitation_open(self, now: datetime):
        return (self.status == DelegateStatus.INVITED) & (self.expires_at > now)

    @hybrid_method
    def invitation_run_out(self, now: datetime):
        return (self.status == DelegateStatus.INVITED) & (self.expires_at <= now)
    invited_by: Mapped[Account] = relationship(foreign_keys=[invited_by_id])


class InboundMessage(Base):
    """Every message the gateway took in, raw, with the outcome for each gateway recipient."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(10))  # smtp | imap
    envelope_sender: Mapped[str | None] = mapped_column(CleanString(320))
    message_id: Mapped[str | None] = mapped_column(CleanString(998), index=True)
    sender: Mapped[str | None] = mapped_column(CleanString(320))  # the From header's address
    subject: Mapped[str | None] = mapped_column(CleanText)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)

    outcomes: Mapped[list["InboundOutcome"]] = relationship(back_populates="message", order_by="InboundOutcome.id")


class InboundOutcome(Base):
    __tablename__ = "inbound_outcomes"
    __table_args__ = (Index("uq_inbound_dedupe", "dedupe_key", unique=True),
                      Index("uq_inbound_content", "content_key", unique=True))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    recipient: Mapped[str] = mapped_column(CleanString(320))
    outcome: Mapped[Outcome] = mapped_column(_enum(Outcome, "outcome"))
    reason: Mapped[str] = mapped_column(CleanText, default="")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    # set only for outcomes that changed something, so the same message can never act twice:
    # dedupe_key by Message-ID and sender, content_key by what the sender wrote (see pipeline)
    dedupe_key: Mapped[str | None] = mapped_column(String(128))
    content_key: Mapped[str | None] = mapped_column(String(128))

    message: Mapped[InboundMessage] = relationship(back_populates="outcomes")


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    body: Mapped[str] = mapped_column(CleanText)
    html: Mapped[str | None] = mapped_column(CleanText)
    trimmed: Mapped[str] = mapped_column(CleanText, default="")  # quoted history and signature cut off
    source: Mapped[PostSource] = mapped_column(_enum(PostSource, "post_source"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    email_message_id: Mapped[str | None] = mapped_column(CleanString(998))

    author: Mapped[Account] = relationship()
    attachments: Mapped[list["Attachment"]] = relationship(order_by="Attachment.id")


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    filename: Mapped[str] = mapped_column(CleanString(255))
    content_type: Mapped[str] = mapped_column(CleanString(255))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    content_id: Mapped[str | None] = mapped_column(CleanString(255))  # set when the post's HTML shows it inline


class OutboxMessage(Base):
    """One copy for one recipient, from the transaction that caused it until the relay's 250.

    Small on purpose: what to send (`kind`, with the post, delegate or `details` it is made from),
    to whom, its Message-ID and its delivery state. The message itself is rendered when it is sent
    (gateway.outbox.letters), from the stored data, its Message-ID and `created_at` as its Date, so a copy
    sent again after a crash is the same message."""

    __tablename__ = "outbox"
    __table_args__ = (
        # only copies still to send are indexed: the claim reads them in order, sent rows drop out
        Index("ix_outbox_pending", "next_attempt_at",
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
        Index("ix_outbox_sending", "claimed_until",
              sqlite_where=text("status = 'sending'"), postgresql_where=text("status = 'sending'")),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # which template makes it
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id"))  # for "accepted": the thread up to it
    delegate_id: Mapped[int | None] = mapped_column(ForeignKey("delegates.id"))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict | None] = mapped_column(JSON)  # a notice's own facts (who was held, and why)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))  # the process that sent (or sends) it
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(CleanText)


class LoopEvent(Base):
    """A post, new ticket or held message, for the loop breaker: counted per sender (apart by whether
    the sender proved who they are) and per ticket over a short window, read through an index, and
    pruned once older than the window. Held events count toward nothing (gateway.intake.loop_breaker)."""

    __tablename__ = "loop_events"
    __table_args__ = (Index("ix_loop_events_sender", "sender", "proven", "held", "at"),
                      Index("ix_loop_events_ticket", "ticket_id", "held", "at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    sender: Mapped[str] = mapped_column(CleanString(320))
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    proven: Mapped[bool] = mapped_column(Boolean, default=False)  # by a reply or invite address of their own
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- IMAP intake (issue 6) -----------------------------------------------------------------

class MailboxCursor(Base):
    """One polled IMAP folder: how far it was read, and which gateway process may read it.

    The cursor is (UIDVALIDITY, last UID committed); a new UIDVALIDITY means a rescan, deduped
    by the pipeline. The lease (holder, lease_until) lets one poller at a time work the folder."""

    __tablename__ = "imap_mailboxes"

    mailbox: Mapped[str] = mapped_column(String(500), primary_key=True)  # user@host:port/folder
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    holder: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class RefusalNotice(Base):
    """A refusal notice sent to an address (IMAP intake), kept to rate-limit them per address."""

    __tablename__ = "refusal_notices"
    __table_args__ = (Index("ix_refusal_notices_address_sent", "address", "sent_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    address: Mapped[str] = mapped_column(CleanString(320))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))


# --- delivery state per address (issue 5) --------------------------------------------------

class Bounce(Base):
    """A bounce tied (by its VERP address) to one outbox copy."""

    __tablename__ = "bounces"
    __table_args__ = (Index("ix_bounces_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    severity: Mapped[BounceSeverity] = mapped_column(_enum(BounceSeverity, "bounce_severity"))
    status: Mapped[str | None] = mapped_column(String(20))  # "5.1.1", "550", or None when not given
    reason: Mapped[str] = mapped_column(CleanText, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))


class DeliveryStop(Base):
    """An address the gateway no longer sends to, since hard or repeated soft bounces.

    A row with stopped_at NULL was resumed by staff; bounces before resumed_at no longer count."""

    __tablename__ = "delivery_stops"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(CleanText)
    resumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resumed_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


# --- the HTTP API --------------------------------------------------------------------------

class ApiToken(Base):
    """A bearer token for the HTTP API; it acts as its account, under the same rules as the CLI.
    Only the token's SHA-256 is kept: the token itself is shown once, when it is made."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(CleanString(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    account: Mapped[Account] = relationship()
