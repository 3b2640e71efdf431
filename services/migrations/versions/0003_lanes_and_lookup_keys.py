"""lanes and lookup keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 22:33:22.169414
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('item_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('exchange', sa.String(length=64), nullable=False),
    sa.Column('recipient_org', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('item_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_keys_item_id'), ['item_id'], unique=False)
        batch_op.create_index('ix_item_keys_lookup', ['exchange', 'recipient_org', 'key'], unique=False)

    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lane', sa.String(length=16), server_default='standard', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('lane')

    with op.batch_alter_table('item_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_item_keys_lookup')
        batch_op.drop_index(batch_op.f('ix_item_keys_item_id'))

    op.drop_table('item_keys')
