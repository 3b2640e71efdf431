"""one write path: sealed evidence batches; no exchange topics to consume

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 22:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evidence_batches',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.alter_column('jws', existing_type=sa.Text(), nullable=True)
        batch_op.add_column(sa.Column('claims', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('batch_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('leaf_index', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('proof', sa.Text(), nullable=True))
        batch_op.create_foreign_key('fk_evidence_batch', 'evidence_batches', ['batch_id'], ['id'])
        batch_op.create_index('ix_evidence_item_step', ['item_id', 'step'], unique=False)
    # Delivery happens at commit: no consumer group records what it processed any more.
    op.drop_table('processed_messages')
    op.drop_table('consumer_rejects')


def downgrade() -> None:
    op.create_table('consumer_rejects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consumer_group', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('processed_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consumer_group', sa.String(length=200), nullable=False),
    sa.Column('message_id', sa.String(length=128), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('consumer_group', 'message_id')
    )
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index('ix_evidence_item_step')
        batch_op.drop_constraint('fk_evidence_batch', type_='foreignkey')
        batch_op.drop_column('proof')
        batch_op.drop_column('leaf_index')
        batch_op.drop_column('batch_id')
        batch_op.drop_column('claims')
    op.drop_table('evidence_batches')
