"""topic erasures: where an erased item's records sit on the recipients' topics, deleted
from the broker once the recipient's consumer groups have read past them

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 04:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'topic_erasures',
        sa.Column('id', BigId, primary_key=True, autoincrement=True),
        sa.Column('topic', sa.String(length=200), nullable=False),
        sa.Column('org_id', sa.String(length=64), nullable=False),
        sa.Column('position', sa.BigInteger(), nullable=False),
        sa.Column('message_id', sa.String(length=128), nullable=False),
        sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=True),
    )
    op.create_index('ix_topic_erasures_topic', 'topic_erasures', ['topic'])
    op.create_index('ix_topic_erasures_done_at', 'topic_erasures', ['done_at'])


def downgrade() -> None:
    op.drop_table('topic_erasures')
