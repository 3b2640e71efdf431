"""console: agents (people signed in with OpenID Connect), their drafts, and where each
organisation's e-mail notices stand

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 19:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'agents',
        sa.Column('sub', sa.String(length=128), primary_key=True),
        sa.Column('org_id', sa.String(length=64), sa.ForeignKey('organisations.id'),
                  nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False, unique=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('roles', sa.String(length=128), nullable=False),
        sa.Column('notify', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('signed_out_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_agents_org', 'agents', ['org_id'])
    op.create_table(
        'agent_drafts',
        sa.Column('id', sa.String(length=64), primary_key=True),
        sa.Column('org_id', sa.String(length=64), sa.ForeignKey('organisations.id'),
                  nullable=False),
        sa.Column('exchange', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('item_id', sa.String(length=64), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('author_sub', sa.String(length=128), nullable=False),
        sa.Column('author_name', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_agent_drafts_org', 'agent_drafts', ['org_id', 'sent_at'])
    op.create_table(
        'agent_notice_cursors',
        sa.Column('org_id', sa.String(length=64), sa.ForeignKey('organisations.id'),
                  primary_key=True),
        sa.Column('feed_seq', sa.BigInteger(), nullable=False),
        sa.Column('due_checked_at', sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('agent_notice_cursors')
    op.drop_index('ix_agent_drafts_org', table_name='agent_drafts')
    op.drop_table('agent_drafts')
    op.drop_index('ix_agents_org', table_name='agents')
    op.drop_table('agents')
