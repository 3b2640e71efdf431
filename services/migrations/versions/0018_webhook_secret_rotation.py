"""webhook secret rotation: the previous secret still signs for an overlap after a
rotation

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 03:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('webhooks') as batch:
        batch.add_column(sa.Column('previous_secret', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('previous_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('webhooks') as batch:
        batch.drop_column('previous_until')
        batch.drop_column('previous_secret')
