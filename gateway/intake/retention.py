"""Retention: the raw bytes of old inbound messages dropped; the row, its outcomes and posts stay
(a purged message has empty `raw`, its sha256 still recorded)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from storage.db import rows_changed
from storage.models import InboundMessage


def purge_raw(session: Session, received_before: datetime) -> int:
    """Drops the raw bytes of messages received before the time; returns how many."""
    return rows_changed(session, update(InboundMessage)
                        .where(InboundMessage.received_at < received_before, InboundMessage.raw != b"")
                        .values(raw=b""))
