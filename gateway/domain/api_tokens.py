"""Bearer tokens for the HTTP API: made for an account, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.errors import Reason, Refused
from storage.models import Account, ApiToken

PREFIX = "gwt_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, account: Account, label: str = "") -> tuple[ApiToken, str]:
    """A new token for `account`; the token itself is returned here and never again."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(account=account, token_sha256=_digest(token), label=" ".join(label.split()))
    session.add(row)
    session.flush()
    return row, token


def account_for(session: Session, token: str) -> Account | None:
    """The account a live token acts as; None for an unknown or revoked token."""
    if not token.startswith(PREFIX):
        return None
    row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == _digest(token))).first()
    return row.account if row is not None and row.revoked_at is None else None


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise Refused(Reason.INVALID_INPUT, f"There is no API token {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = now
    return row
