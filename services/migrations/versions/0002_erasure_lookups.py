"""erasure lookups

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 22:22:19.117516
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_idempotency_keys_item_id'), ['item_id'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_key'), ['key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_key'))

    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_item_id'))
        batch_op.drop_column('item_id')

