"""Store accounts: adding, finding, listing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.domain.errors import Reason, Refused
from gateway.domain.plain_text import one_line
from parsers.addresses import is_ascii_address, normalize, parse_mailbox
from storage.models import Account, Role


def valid_email(text: str) -> str:
    """A bare address typed by a person -> its normalized form, or Refused."""
    address = parse_mailbox(text.strip()) if text else None
    if address is None or address != normalize(text.strip()):
        raise Refused(Reason.INVALID_INPUT, f"not an email address: {text!r}")
    return address


def require_mailable(address: str) -> None:
    """Refused unless the gateway can send to `address`: it sends without SMTPUTF8, so the part before
    the @ must be ASCII (a domain is stored and sent as A-labels)."""
    if not is_ascii_address(address):
        raise Refused(Reason.INVALID_INPUT,
                      f"{address} cannot receive the gateway's mail: the part before the @ must be ASCII "
                      "(the gateway does not send internationalised addresses); use another address.")


def find_account(session: Session, email: str) -> Account | None:
    return session.scalars(select(Account).where(Account.email == normalize(email))).first()


def get_account(session: Session, email: str) -> Account:
    account = find_account(session, email)
    if account is None:
        raise Refused(Reason.NO_ACCOUNT, f"{normalize(email)} has no store account.")
    return account


def add_account(session: Session, email: str, name: str, role: Role) -> Account:
    address = valid_email(email)
    require_mailable(address)
    if find_account(session, address) is not None:
        raise Refused(Reason.ACCOUNT_EXISTS, f"{address} already has an account.")
    name = one_line(name)
    if not name:
        raise Refused(Reason.INVALID_INPUT, "an account needs a name")
    account = Account(email=address, name=name, role=role)
    session.add(account)
    session.flush()
    return account


def new_client(address: str) -> Account:
    """A client account for an address alone, named from it; not stored yet."""
    return Account(email=address, name=name_from_address(address), role=Role.CLIENT)


def name_from_address(address: str) -> str:
    """A readable name for an account made from an address alone."""
    local = address.split("@", 1)[0]
    words = local.replace(".", " ").replace("_", " ").replace("-", " ").split()
    return " ".join(w.capitalize() for w in words) or address


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.id)))


def accounts_with_roles(session: Session, roles: tuple[Role, ...]) -> list[Account]:
    return list(session.scalars(select(Account).where(Account.role.in_(roles)).order_by(Account.id)))
