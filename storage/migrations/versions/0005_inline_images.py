"""An attachment's Content-ID, so inline images travel with the post's HTML

Revision ID: 0005_inline_images
Revises: 0004_api_tokens
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_inline_images'
down_revision = '0004_api_tokens'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_id', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_column('content_id')
