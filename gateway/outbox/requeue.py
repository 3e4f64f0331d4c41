"""Failed copies sent again on an operator's word: back to pending, attempts reset, due now."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.errors import Reason, Refused
from storage.models import OutboxMessage, OutboxStatus


def copies(session: Session, status: OutboxStatus | None, limit: int) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))


def retry_copy(session: Session, copy_id: int, now: datetime) -> OutboxMessage:
    copy = session.get(OutboxMessage, copy_id)
    if copy is None:
        raise Refused(Reason.NO_SUCH_MESSAGE, f"no outbox copy {copy_id}")
    if copy.status != OutboxStatus.FAILED:
        raise Refused(Reason.NOT_FAILED, f"outbox copy {copy_id} is {copy.status.value}, not failed; "
                                         "only failed copies are retried")
    _requeue(copy, now)
    return copy


def retry_failed(session: Session, now: datetime) -> list[OutboxMessage]:
    failed = list(session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
                                  .order_by(OutboxMessage.id)))
    for copy in failed:
        _requeue(copy, now)
    return failed


def _requeue(copy: OutboxMessage, now: datetime) -> None:
    copy.status, copy.attempts, copy.next_attempt_at = OutboxStatus.PENDING, 0, now
    copy.claimed_until = copy.claimed_by = None
