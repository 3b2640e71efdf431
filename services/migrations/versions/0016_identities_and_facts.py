"""identities and facts: the identities a pseudonymised item names, kept apart and sealed;
the categories the statistics count items under, kept after erasure

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 22:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'item_identities',
        sa.Column('item_id', sa.String(length=64), sa.ForeignKey('items.id'), primary_key=True),
        sa.Column('sealed', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'item_facts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True,
                  autoincrement=True),
        sa.Column('item_id', sa.String(length=64), sa.ForeignKey('items.id'), nullable=False),
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
    )
    op.create_index('ix_item_facts_item_id', 'item_facts', ['item_id'])
    op.create_index('ix_item_facts_name', 'item_facts', ['name', 'item_id'])


def downgrade() -> None:
    op.drop_index('ix_item_facts_name', 'item_facts')
    op.drop_index('ix_item_facts_item_id', 'item_facts')
    op.drop_table('item_facts')
    op.drop_table('item_identities')
