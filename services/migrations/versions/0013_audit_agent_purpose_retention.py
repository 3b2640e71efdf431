"""audit: the person behind a request and the purpose of a consultation; the retention
purge of an entry's personal fields, the only update the database lets through

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 12:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# An update passes only if it purges: the entry keeps its place, time, organisation,
# action, legal basis, outcome, links and hash, and loses who and what and why.
PURGE_ONLY = """NOT OLD.purged AND NEW.purged
    AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.org_id = OLD.org_id
    AND NEW.action = OLD.action AND NEW.legal_basis = OLD.legal_basis
    AND NEW.outcome = OLD.outcome AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
    AND NEW.client_id = '' AND NEW.object = ''
    AND NEW.agent IS NULL AND NEW.purpose IS NULL"""


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agent', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('purpose', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('purged', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
            BEGIN
              IF TG_OP = 'UPDATE' AND {PURGE_ONLY} THEN RETURN NEW; END IF;
              RAISE EXCEPTION 'audit_log is append-only';
            END; $$ LANGUAGE plpgsql""")
    else:
        # batch_alter_table may have recreated the table, and its triggers with it.
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute(f"""
            CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            WHEN NOT ({PURGE_ONLY})
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")
        op.execute("""
            CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")


def downgrade() -> None:
    raise NotImplementedError("purged audit entries cannot be restored: restore a backup")
