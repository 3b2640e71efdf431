"""the feed is the outbox: the relay publishes each recipient's feed entries in order and
keeps one position per recipient (topic_positions) instead of a copy of every message
(outbox) marked one by one

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 20:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'topic_positions',
        sa.Column('org_id', sa.String(length=64), sa.ForeignKey('organisations.id'),
                  primary_key=True),
        sa.Column('published_seq', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )
    # Where each recipient's topic stands: below its first row still waiting, else its
    # whole feed. Rows of other kinds (none since 0007) had nothing left to carry.
    conn = op.get_bind()
    waiting: dict[str, int] = {}
    for (message_id,) in conn.execute(sa.text(
            "SELECT message_id FROM outbox WHERE published_at IS NULL")):
        if message_id.startswith("feed:"):
            _, org_id, seq = message_id.rsplit(":", 2)
            waiting[org_id] = min(int(seq), waiting.get(org_id, int(seq)))
    heads = conn.execute(sa.text("SELECT org_id, last_seq FROM feed_heads")).all()
    now = sa.func.now()
    positions = sa.table('topic_positions', sa.column('org_id'), sa.column('published_seq'),
                         sa.column('updated_at'))
    for org_id, last_seq in heads:
        conn.execute(positions.insert().values(
            org_id=org_id, published_seq=waiting.get(org_id, last_seq + 1) - 1,
            updated_at=now))
    op.drop_table('outbox')


def downgrade() -> None:
    op.create_table(
        'outbox',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=True, nullable=False),
        sa.Column('message_id', sa.String(length=128), nullable=False),
        sa.Column('topic', sa.String(length=200), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('message_id'),
    )
    op.create_index('ix_outbox_published_at', 'outbox', ['published_at'])
    op.create_index('ix_outbox_key', 'outbox', ['key'])
    op.drop_table('topic_positions')
