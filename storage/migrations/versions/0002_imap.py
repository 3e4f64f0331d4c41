"""IMAP intake: per-folder cursor and lease; refusal notices for rate limiting

Revision ID: 0002_imap
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_imap'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('imap_mailboxes',
    sa.Column('mailbox', sa.String(length=500), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=True),
    sa.Column('last_uid', sa.BigInteger(), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('mailbox')
    )
    op.create_table('refusal_notices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('inbound_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('refusal_notices', schema=None) as batch_op:
        batch_op.create_index('ix_refusal_notices_address_sent', ['address', 'sent_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('refusal_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_refusal_notices_address_sent')
    op.drop_table('refusal_notices')
    op.drop_table('imap_mailboxes')
