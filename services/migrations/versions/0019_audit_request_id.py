"""audit request id: the request's id (X-Request-Id) in its audit entry, emptied by the
retention purge with the entry's other personal fields

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 03:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

# As in 0013, and the request's id emptied too (it leads to the caller's own logs).
PURGE_ONLY = """NOT OLD.purged AND NEW.purged
    AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.org_id = OLD.org_id
    AND NEW.action = OLD.action AND NEW.legal_basis = OLD.legal_basis
    AND NEW.outcome = OLD.outcome AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
    AND NEW.client_id = '' AND NEW.object = ''
    AND NEW.agent IS NULL AND NEW.purpose IS NULL AND NEW.request_id IS NULL"""


def _triggers(purge_only: str) -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
            BEGIN
              IF TG_OP = 'UPDATE' AND {purge_only} THEN RETURN NEW; END IF;
              RAISE EXCEPTION 'audit_log is append-only';
            END; $$ LANGUAGE plpgsql""")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute(f"""
            CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            WHEN NOT ({purge_only})
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")
        op.execute("""
            CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=128), nullable=True))
    _triggers(PURGE_ONLY)


def downgrade() -> None:
    raise NotImplementedError("audit entries cannot lose a column: restore a backup")
