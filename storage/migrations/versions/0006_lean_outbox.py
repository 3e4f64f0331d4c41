"""A lean outbox: copies are rendered when sent, not stored; a loop-breaker event table; delegates
indexed by (ticket, account) for the access checks

Revision ID: 0006_lean_outbox
Revises: 0005_inline_images
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_lean_outbox'
down_revision = '0005_inline_images'
branch_labels = None
depends_on = None

# kinds whose text came only from the stored copy: rendered at send time they need `details`, which
# copies queued before this revision do not have
_NOTICE_KINDS = "('held', 'delivery_stopped', 'notice', 'invite_confirmation')"


def upgrade() -> None:
    op.execute(f"UPDATE outbox SET status = 'failed', last_error = 'queued before the outbox stopped storing "
               f"rendered copies (revision 0006); not sent' WHERE status IN ('pending', 'sending') "
               f"AND kind IN {_NOTICE_KINDS}")
    sqlite = op.get_bind().dialect.name == 'sqlite'
    with op.batch_alter_table('outbox', schema=None,
                              naming_convention={'uq': 'uq_%(table_name)s_%(column_0_name)s'}) as batch_op:
        batch_op.drop_index('ix_outbox_due')
        batch_op.drop_index('ix_outbox_ticket_id')
        batch_op.drop_constraint('uq_outbox_message_id' if sqlite else 'outbox_message_id_key', type_='unique')
        batch_op.drop_column('raw')
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=100), nullable=True))
        batch_op.create_index('ix_outbox_pending', ['next_attempt_at'], unique=False,
                              sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.create_index('ix_outbox_sending', ['claimed_until'], unique=False,
                              sqlite_where=sa.text("status = 'sending'"), postgresql_where=sa.text("status = 'sending'"))
    with op.batch_alter_table('delegates', schema=None) as batch_op:
        batch_op.drop_index('ix_delegates_ticket_id')
        batch_op.create_index('ix_delegates_ticket_account', ['ticket_id', 'account_id'], unique=False)
    op.create_table('loop_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('ticket_id', sa.BigInteger(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loop_events', schema=None) as batch_op:
        batch_op.create_index('ix_loop_events_sender_at', ['sender', 'at'], unique=False)
        batch_op.create_index('ix_loop_events_ticket_at', ['ticket_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_table('loop_events')
    with op.batch_alter_table('delegates', schema=None) as batch_op:
        batch_op.drop_index('ix_delegates_ticket_account')
        batch_op.create_index('ix_delegates_ticket_id', ['ticket_id'], unique=False)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_sending')
        batch_op.drop_index('ix_outbox_pending')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('details')
        # the rendered copies are gone: rows come back with an empty message and must not be sent again
        batch_op.add_column(sa.Column('raw', sa.LargeBinary(), nullable=False, server_default=sa.text("''")))
        batch_op.create_unique_constraint('uq_outbox_message_id', ['message_id'])
        batch_op.create_index('ix_outbox_ticket_id', ['ticket_id'], unique=False)
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)
    op.execute("UPDATE outbox SET status = 'failed' WHERE status IN ('pending', 'sending')")
