"""The loop breaker counts senders apart by whether they proved who they are, and held messages
count toward no limit

Revision ID: 0007_loop_breaker_proof
Revises: 0006_lean_outbox
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_loop_breaker_proof'
down_revision = '0006_lean_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('loop_events', schema=None) as batch_op:
        batch_op.drop_index('ix_loop_events_sender_at')
        batch_op.drop_index('ix_loop_events_ticket_at')
        batch_op.add_column(sa.Column('proven', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('held', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index('ix_loop_events_sender', ['sender', 'proven', 'held', 'at'], unique=False)
        batch_op.create_index('ix_loop_events_ticket', ['ticket_id', 'held', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('loop_events', schema=None) as batch_op:
        batch_op.drop_index('ix_loop_events_ticket')
        batch_op.drop_index('ix_loop_events_sender')
        batch_op.drop_column('held')
        batch_op.drop_column('proven')
        batch_op.create_index('ix_loop_events_ticket_at', ['ticket_id', 'at'], unique=False)
        batch_op.create_index('ix_loop_events_sender_at', ['sender', 'at'], unique=False)
