"""client keys: a client's public keys for private_key_jwt (RFC 7523), and the ids of
the assertions it presented, kept until they expire (replay)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 07:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'client_keys',
        sa.Column('id', sa.String(length=32), primary_key=True),
        sa.Column('client_id', sa.String(length=64), sa.ForeignKey('clients.client_id'),
                  nullable=False),
        sa.Column('jwk', sa.Text(), nullable=False),
        sa.Column('thumbprint', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_client_keys_client_id', 'client_keys', ['client_id'])
    op.create_table(
        'client_assertions',
        sa.Column('client_id', sa.String(length=64), primary_key=True),
        sa.Column('jti', sa.String(length=200), primary_key=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_client_assertions_expires_at', 'client_assertions', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_client_assertions_expires_at', 'client_assertions')
    op.drop_table('client_assertions')
    op.drop_index('ix_client_keys_client_id', 'client_keys')
    op.drop_table('client_keys')
