"""documents: files uploaded by the parties, encrypted at rest with a key of their own,
carried by an item's submission or step

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 15:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'documents',
        sa.Column('id', sa.String(length=64), primary_key=True),
        sa.Column('org_id', sa.String(length=64), sa.ForeignKey('organisations.id'),
                  nullable=False),
        sa.Column('uploaded_by', sa.String(length=64), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=True),
        sa.Column('media_type', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('object_name', sa.String(length=128), nullable=False),
        sa.Column('sealed_key', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('item_id', sa.String(length=64), nullable=True),
        sa.Column('retrieved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('destroyed_reason', sa.String(length=32), nullable=True),
        sa.Column('object_deleted_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_documents_item', 'documents', ['item_id'])
    op.create_index('ix_documents_expires', 'documents', ['expires_at'])
    op.create_index('ix_documents_destroyed', 'documents',
                    ['destroyed_at', 'object_deleted_at'])


def downgrade() -> None:
    op.drop_table('documents')
