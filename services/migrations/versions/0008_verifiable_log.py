"""verifiable log: evidence and audit entries as leaves of one Merkle tree with signed
checkpoints; checkpoint keys apart from the token keys; append-only triggers

Existing evidence records (their claims, from the JWS of the first design when needed)
and audit entries become the first leaves; the hub signs a checkpoint over them when it
starts. Sealed batches (evidence_batches) are superseded by the log.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 01:00:00
"""

import base64
import json

from alembic import op
import sqlalchemy as sa

from services.verifiable_log import tree
from services.verifiable_log.verifier import canonical


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

APPEND_ONLY = ("evidence", "log_leaves", "log_nodes", "log_checkpoints")


def _claims_of(jws: str) -> dict:
    payload = jws.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _backfill(conn) -> None:
    """Every existing evidence record, then every audit entry, as leaves in that order."""
    leaves, nodes = [], []
    frontier = tree.Frontier(0, [])
    evidence = conn.execute(sa.text(
        "SELECT id, item_id, jws, claims FROM evidence ORDER BY id")).all()
    for row in evidence:
        claims = json.loads(row.claims) if row.claims else _claims_of(row.jws)
        text = canonical(claims)
        conn.execute(sa.text("UPDATE evidence SET claims = :c, log_index = :i WHERE id = :id"),
                     {"c": text.decode(), "i": frontier.size, "id": row.id})
        leaves.append({"idx": frontier.size, "kind": "evidence", "ref": None,
                       "item_id": row.item_id, "org_id": None})
        nodes += frontier.append([tree.leaf_hash(text)])
    for row in conn.execute(sa.text("SELECT * FROM audit_log ORDER BY seq")).mappings():
        at = row["at"]
        if isinstance(at, str):  # SQLite
            from datetime import datetime
            at = datetime.fromisoformat(at)
        data = {"log": "audit", "seq": row["seq"], "at": at.isoformat(),
                "client_id": row["client_id"], "org_id": row["org_id"],
                "action": row["action"], "object": row["object"],
                "legal_basis": row["legal_basis"], "outcome": row["outcome"],
                "prev_hash": row["prev_hash"], "hash": row["hash"]}
        leaves.append({"idx": frontier.size, "kind": "audit", "ref": row["seq"],
                       "item_id": None, "org_id": row["org_id"]})
        nodes += frontier.append([tree.leaf_hash(canonical(data))])
    if not leaves:
        return
    leaf_table = sa.table("log_leaves", *(sa.column(c) for c in
                                          ("idx", "kind", "ref", "item_id", "org_id")))
    node_table = sa.table("log_nodes", sa.column("level"), sa.column("idx"),
                          sa.column("hash", sa.LargeBinary))
    conn.execute(leaf_table.insert(), leaves)
    conn.execute(node_table.insert(), [{"level": lv, "idx": i, "hash": h}
                                       for lv, i, h in nodes])
    conn.execute(sa.text("INSERT INTO log_head (id, size, frontier) VALUES (1, :s, :f)"),
                 {"s": frontier.size,
                  "f": json.dumps([[lv, i, h.hex()] for lv, i, h in frontier.nodes])})


def _append_only(table: str) -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION vigie_append_only()""")
        op.execute(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION vigie_append_only()""")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""")


def upgrade() -> None:
    op.create_table('log_leaves',
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.BigInteger(), nullable=True),
    sa.Column('item_id', sa.String(length=64), nullable=True),
    sa.Column('org_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('idx')
    )
    op.create_index('ix_log_leaves_ref', 'log_leaves', ['kind', 'ref'], unique=False)
    op.create_index('ix_log_leaves_item_id', 'log_leaves', ['item_id'], unique=False)
    op.create_table('log_nodes',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx')
    )
    op.create_table('log_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('frontier', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('log_checkpoints',
    sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root', sa.LargeBinary(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('audit_seq', sa.BigInteger(), nullable=False),
    sa.Column('audit_hash', sa.String(length=80), nullable=False),
    sa.Column('key_id', sa.String(length=8), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('size')
    )
    op.create_index('ix_log_checkpoints_at', 'log_checkpoints', ['at'], unique=False)
    op.create_table('log_keys',
    sa.Column('key_id', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id')
    )
    op.create_table('log_signing_keys',
    sa.Column('key_id', sa.String(length=8), nullable=False),
    sa.Column('private_key', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id')
    )
    op.add_column('evidence', sa.Column('log_index', sa.BigInteger(), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_constraint('fk_evidence_batch', type_='foreignkey')
        batch_op.drop_column('proof')
        batch_op.drop_column('leaf_index')
        batch_op.drop_column('batch_id')
        batch_op.drop_column('jws')
        batch_op.alter_column('claims', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('log_index', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint('uq_evidence_log_index', ['log_index'])
    op.drop_table('evidence_batches')
    if op.get_context().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION vigie_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql""")
        op.execute("""
            CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION vigie_append_only()""")
    for table in APPEND_ONLY:
        _append_only(table)


def downgrade() -> None:
    raise NotImplementedError("the verifiable log cannot be removed: restore a backup")
