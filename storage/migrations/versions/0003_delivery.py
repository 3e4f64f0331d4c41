"""Delivery state per address (bounces, stops) and dedupe by content

Revision ID: 0003_delivery
Revises: 0002_imap
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_delivery'
down_revision = '0002_imap'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('inbound_outcomes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_key', sa.String(length=128), nullable=True))
        batch_op.create_index('uq_inbound_content', ['content_key'], unique=True)
    op.create_table('bounces',
    sa.Column('id', _ID, nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('severity', sa.Enum('hard', 'soft', name='bounce_severity', native_enum=False, length=20),
              nullable=False),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outbox_id', _ID, nullable=False),
    sa.Column('inbound_id', _ID, nullable=True),
    sa.Column('ticket_id', _ID, nullable=True),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_messages.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('bounces', schema=None) as batch_op:
        batch_op.create_index('ix_bounces_address_at', ['address', 'at'], unique=False)
    op.create_table('delivery_stops',
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resumed_by_id', _ID, nullable=True),
    sa.ForeignKeyConstraint(['resumed_by_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('address')
    )


def downgrade() -> None:
    op.drop_table('delivery_stops')
    with op.batch_alter_table('bounces', schema=None) as batch_op:
        batch_op.drop_index('ix_bounces_address_at')
    op.drop_table('bounces')
    with op.batch_alter_table('inbound_outcomes', schema=None) as batch_op:
        batch_op.drop_index('uq_inbound_content')
        batch_op.drop_column('content_key')
