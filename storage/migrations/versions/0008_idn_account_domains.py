"""Account addresses with an internationalised domain are stored with its A-labels, the one form the
gateway now compares (parsers.addresses.normalize): "zoe@bücher.test" becomes "zoe@xn--bcher-kva.test".
An address whose domain is no valid IDN, or whose new form another account has, stays as it was.

Revision ID: 0008_idn_account_domains
Revises: 0007_loop_breaker_proof
"""
from alembic import op
import idna
import sqlalchemy as sa


revision = '0008_idn_account_domains'
down_revision = '0007_loop_breaker_proof'
branch_labels = None
depends_on = None

_accounts = sa.table('accounts', sa.column('id', sa.Integer), sa.column('email', sa.String))


def _a_labels(domain: str) -> str:
    return domain if domain.isascii() else idna.encode(domain).decode('ascii')


def _u_labels(domain: str) -> str:
    return idna.decode(domain) if domain.startswith('xn--') or '.xn--' in domain else domain


def _rewrite_domains(convert) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_accounts.c.id, _accounts.c.email)).all()
    taken = {email for _, email in rows}
    for account_id, email in rows:
        local, _, domain = email.rpartition('@')
        try:
            new = f"{local}@{convert(domain)}"
        except (idna.IDNAError, UnicodeError):
            continue
        if new != email and new not in taken:
            connection.execute(_accounts.update().where(_accounts.c.id == account_id).values(email=new))
            taken.add(new)


def upgrade() -> None:
    _rewrite_domains(_a_labels)


def downgrade() -> None:
    _rewrite_domains(_u_labels)  # the form the older code stored (flanker's)
