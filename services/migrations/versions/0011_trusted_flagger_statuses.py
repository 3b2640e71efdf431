"""trusted flaggers' statuses (DSA art. 22): awarded for areas, suspended or revoked, each
from a date; only an awarded flagger's notices within its areas take the priority lane

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 05:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'trusted_flagger_statuses',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('org_id', sa.String(length=64), sa.ForeignKey('organisations.id'),
                  nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('areas', sa.Text(), nullable=False),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column('decision_reference', sa.String(length=200), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_trusted_flagger_statuses_org_id', 'trusted_flagger_statuses',
                    ['org_id'])


def downgrade() -> None:
    op.drop_table('trusted_flagger_statuses')
