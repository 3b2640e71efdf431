"""client secrets: a client's secrets in a table of their own, so that two are valid at
once while the client rotates them itself

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 03:00:00
"""

import secrets

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'client_secrets',
        sa.Column('id', sa.String(length=32), primary_key=True),
        sa.Column('client_id', sa.String(length=64), sa.ForeignKey('clients.client_id'),
                  nullable=False),
        sa.Column('secret_hash', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_client_secrets_client_id', 'client_secrets', ['client_id'])
    bind = op.get_bind()
    clients = sa.table('clients', sa.column('client_id', sa.String), sa.column(
        'secret_hash', sa.String), sa.column('created_at', sa.DateTime(timezone=True)))
    rows = bind.execute(sa.select(clients.c.client_id, clients.c.secret_hash,
                                  clients.c.created_at)).all()
    if rows:
        op.bulk_insert(sa.table('client_secrets', sa.column('id', sa.String),
                                sa.column('client_id', sa.String),
                                sa.column('secret_hash', sa.String),
                                sa.column('created_at', sa.DateTime(timezone=True))),
                       [{"id": "cs_" + secrets.token_hex(8), "client_id": c, "secret_hash": h,
                         "created_at": at} for c, h, at in rows])
    with op.batch_alter_table('clients') as batch:
        batch.drop_column('secret_hash')


def downgrade() -> None:
    with op.batch_alter_table('clients') as batch:
        batch.add_column(sa.Column('secret_hash', sa.String(length=200), nullable=True))
    # The oldest secret of each client becomes its only one again.
    op.execute("UPDATE clients SET secret_hash = (SELECT s.secret_hash FROM client_secrets s "
               "WHERE s.client_id = clients.client_id ORDER BY s.created_at LIMIT 1)")
    op.drop_index('ix_client_secrets_client_id', 'client_secrets')
    op.drop_table('client_secrets')
