"""jurisdictions: courts and prosecution offices are registered with the jurisdiction they
act for, which the hub fills in or checks in what they declare

Existing courts and prosecution offices get none: until an operator sets it
(`vigie org update --id ... --jurisdiction ...`) the hub refuses their submissions that
name a court, rather than trusting what they declare.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 04:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('organisations') as batch_op:
        batch_op.add_column(sa.Column('jurisdiction', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('jurisdiction_name', sa.String(length=200),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('organisations') as batch_op:
        batch_op.drop_column('jurisdiction_name')
        batch_op.drop_column('jurisdiction')
