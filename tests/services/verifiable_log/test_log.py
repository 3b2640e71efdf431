"""The verifiable log against the real databases: checkpoints and proofs over HTTP, seen
only by the parties; witnesses that catch a fork (the database restored from an older
backup and written again), a rollback, and an audit entry rewritten by someone with
database rights; the PostgreSQL role the hub runs as, unable to touch the log's tables."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from services.audit.service import entry_hash
from services.metrics import LOG_CONSISTENT
from services.verifiable_log import tree, verifier
from services.verifiable_log.service import audit_leaf
from services.verifiable_log.witness import HubWitness
from tests.conftest import as_hub_role, build_stack, example_request


def keyset(stack) -> verifier.KeySet:
    return verifier.KeySet(stack.http.get("/.well-known/vigie-log-keys.json").json())


def http_witness(stack, state: Path) -> verifier.Witness:
    """A party's witness, fetching through the party's own token."""
    return verifier.Witness(keyset(stack), str(state))


def observe(stack, witness: verifier.Witness, org: str = "plateforme-alpha"):
    api = stack.api(org)
    got = api.get("/v1/log/checkpoint")
    assert got.status_code == 200, got.text
    note = got.json()["note"]

    def prove(first: int, second: int) -> list[bytes]:
        answer = api.get("/v1/log/consistency", first=first, second=second)
        assert answer.status_code == 200, answer.text
        return [base64.b64decode(h) for h in answer.json()["hashes"]]

    return witness.observe(note, prove)


def submit(stack, n: int = 1) -> list[str]:
    court = stack.api("tj-paris")
    ids = []
    for _ in range(n):
        resp = court.post("/v1/information-requests", example_request())
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    return ids


def test_checkpoints_and_consistency_over_http(stack, tmp_path):
    witness = http_witness(stack, tmp_path / "w.json")
    first = observe(stack, witness)
    submit(stack, 3)
    second = observe(stack, witness)
    assert second.size > first.size
    assert second.audit_seq > first.audit_seq  # the audit chain's head is in every checkpoint
    assert json.loads((tmp_path / "w.json").read_text())["checkpoint"] == second.note
    api = stack.api("dgs")
    by_size = api.get("/v1/log/checkpoint", size=first.size)
    assert by_size.status_code == 200 and by_size.json()["note"] == first.note
    assert api.get("/v1/log/checkpoint", size=first.size + 10**9).status_code == 404
    bad = api.get("/v1/log/consistency", first=10**12, second=second.size + 10**9)
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in bad.json()["errors"]} == {"query:first", "query:second"}
    assert api.get("/v1/log/consistency", first="x").status_code == 400
    assert stack.http.get("/v1/log/checkpoint").status_code == 401


def test_inclusion_proofs_only_for_the_parties(stack):
    item_id = submit(stack)[0]
    court = stack.api("tj-paris")
    records = court.get(f"/v1/information-requests/{item_id}/evidence").json()["evidence"]
    index = records[0]["leaf_index"]
    mine = court.get(f"/v1/log/leaves/{index}/inclusion")
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["kind"] == "evidence" and body["leaf"] == records[0]["claims"]
    checkpoint = verifier.Checkpoint(court.get("/v1/log/checkpoint",
                                               size=body["size"]).json()["note"])
    leaf = verifier.leaf_hash(verifier.canonical(body["leaf"]))
    assert verifier.root_from_inclusion(index, body["size"], leaf, [
        base64.b64decode(h) for h in body["hashes"]]) == checkpoint.root
    assert stack.api("miviludes").get(f"/v1/log/leaves/{index}/inclusion").status_code == 200
    for org in ("dgs", "plateforme-alpha", "arcom"):
        assert stack.api(org).get(f"/v1/log/leaves/{index}/inclusion").status_code == 404
    assert court.get("/v1/log/leaves/999999999999/inclusion").status_code == 404
    # An audit entry is a leaf too, visible to its own organisation only.
    from services.verifiable_log.models import LogLeaf
    with stack.hub.db.sessions() as session:
        audit = session.scalars(select(LogLeaf).where(LogLeaf.kind == "audit",
                                                      LogLeaf.org_id == "tj-paris")
                                .order_by(LogLeaf.idx.desc())).first()
    seen = court.get(f"/v1/log/leaves/{audit.idx}/inclusion").json()
    assert seen["kind"] == "audit" and seen["leaf"]["org_id"] == "tj-paris"
    assert stack.api("dgs").get(f"/v1/log/leaves/{audit.idx}/inclusion").status_code == 404


# --- forks, rollbacks, rewrites: on a hub of their own --------------------------------------

def _own(backend: str, database_factory, tmp_path):
    s = build_stack(backend, database_factory(backend), tmp_path / "state",
                    run_consumers=False)
    yield s
    s.hub.stop()
    s.hub.db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def own_stack(request, broker, database_factory, tmp_path):
    yield from _own(request.param, database_factory, tmp_path)


@pytest.fixture
def pg_stack(broker, database_factory, tmp_path):
    yield from _own("postgresql", database_factory, tmp_path)


def _owner(stack):
    return create_engine(stack.owner_url, isolation_level="AUTOCOMMIT")


def _drop_append_only(conn, table: str) -> None:
    """What someone with the owner's rights can do (and the hub's role cannot)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
    else:
        for event in ("update", "delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{event}"))


def _rewrite_audit_entry(conn, seq: int) -> None:
    """Edit one entry and rehash the chain after it, head included."""
    _drop_append_only(conn, "audit_log")
    conn.execute(text("UPDATE audit_log SET action = 'nothing happened' WHERE seq = :s"),
                 {"s": seq})
    from services.audit.models import AuditEntry
    rows = conn.execute(select(AuditEntry.__table__).where(AuditEntry.seq >= seq)
                        .order_by(AuditEntry.seq)).all()
    prev = conn.execute(select(AuditEntry.hash).where(AuditEntry.seq == seq - 1)).scalar()
    for row in rows:
        digest = entry_hash(prev, row.seq, row)
        conn.execute(text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
                     {"p": prev, "h": digest, "s": row.seq})
        prev = digest
    conn.execute(text("UPDATE audit_head SET last_hash = :h"), {"h": prev})


def _rebuild_log(conn) -> None:
    """The thorough tamperer: recompute every leaf and node from the rewritten rows."""
    for table in ("log_nodes",):
        _drop_append_only(conn, table)
    conn.execute(text("DELETE FROM log_nodes"))
    frontier = tree.Frontier(0, [])
    leaves = conn.execute(text("SELECT idx, kind, ref FROM log_leaves ORDER BY idx")).all()
    nodes = []
    from services.audit.models import AuditEntry
    for idx, kind, ref in leaves:
        if kind == "audit":
            row = conn.execute(select(AuditEntry.__table__).where(AuditEntry.seq == ref))
            data = audit_leaf(dict(row.mappings().one())).data
        else:
            claims = conn.execute(text("SELECT claims FROM evidence WHERE log_index = :i"),
                                  {"i": idx}).scalar()
            data = verifier.canonical(json.loads(claims))
        nodes += frontier.append([verifier.leaf_hash(data)])
    conn.execute(text("INSERT INTO log_nodes (level, idx, hash) VALUES (:l, :i, :h)"),
                 [{"l": lv, "i": i, "h": h} for lv, i, h in nodes])
    conn.execute(text("UPDATE log_head SET frontier = :f"),
                 {"f": json.dumps([[lv, i, h.hex()] for lv, i, h in frontier.nodes])})


def audit_verify(stack) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIGIE_DATABASE_URL": stack.settings.database_url,
           "VIGIE_STATE_DIR": str(stack.settings.state_dir),
           "VIGIE_PUBLIC_URL": stack.settings.public_url, "VIGIE_ISSUER": stack.settings.issuer}
    return subprocess.run([sys.executable, "-m", "services.cli", "audit", "verify"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_rewritten_audit_entry_is_named(own_stack, tmp_path):
    stack = own_stack
    submit(stack, 3)
    assert audit_verify(stack).returncode == 0
    witness = http_witness(stack, tmp_path / "w.json")
    observe(stack, witness)
    engine = _owner(stack)
    with engine.connect() as conn:
        seq = conn.execute(text("SELECT max(seq) FROM audit_log")).scalar() - 2
        _rewrite_audit_entry(conn, seq)
    done = audit_verify(stack)
    assert done.returncode == 1
    assert f"audit entry {seq} modified after it was logged" in done.stderr, done.stderr
    # The thorough tamperer rebuilds the tree too: the signed checkpoint still says no...
    with engine.connect() as conn:
        _rebuild_log(conn)
    done = audit_verify(stack)
    assert done.returncode == 1
    assert "does not match its signed checkpoint" in done.stderr, done.stderr
    assert "the chain was rewritten" in done.stderr
    # ...and once the hub signs on top of the rewritten tree, every witness sees a fork.
    submit(stack)
    with pytest.raises(verifier.Refused, match="does not extend"):
        observe(stack, witness)
    engine.dispose()


class Backups:
    """Copy the hub's database aside and put it back, as an operator restoring a backup
    would (the hub's connections closed meanwhile)."""

    def __init__(self, stack, tmp_path: Path):
        self.stack = stack
        self.tmp_path = tmp_path
        stack.hub.stop()  # no background reads of the database meanwhile

    def _quiet(self) -> None:
        self.stack.hub.db.engine.dispose()

    def take(self) -> None:
        self._quiet()
        if self.stack.backend == "sqlite":
            shutil.copy(self._file(), self.tmp_path / "backup.db")
        else:
            self._admin(f'CREATE DATABASE "{self._name()}_bak" TEMPLATE "{self._name()}"')

    def restore(self) -> None:
        self._quiet()
        if self.stack.backend == "sqlite":
            shutil.copy(self.tmp_path / "backup.db", self._file())
        else:
            self._admin(f'DROP DATABASE "{self._name()}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{self._name()}" TEMPLATE "{self._name()}_bak"')
            self._admin(f'DROP DATABASE "{self._name()}_bak"')

    def _file(self) -> Path:
        return Path(self.stack.settings.database_url.removeprefix("sqlite:///"))

    def _name(self) -> str:
        return self.stack.owner_url.rsplit("/", 1)[1]

    def _admin(self, statement: str) -> None:
        admin = create_engine(self.stack.owner_url.rsplit("/", 1)[0] + "/postgres",
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(statement))
        admin.dispose()


def test_a_restored_backup_written_again_is_a_fork(own_stack, tmp_path):
    stack = own_stack
    backups = Backups(stack, tmp_path)
    try:
        submit(stack, 2)
        backups.take()
        submit(stack, 4)
        witness = http_witness(stack, tmp_path / "party.json")
        seen = observe(stack, witness)
        hub_witness = HubWitness(stack.hub.db, stack.settings,
                                 state_path=tmp_path / "hub-witness.json")
        hub_witness.check()
        assert LOG_CONSISTENT._value.get() == 1
        # The database is restored from the older backup: a rollback...
        backups.restore()
        with pytest.raises(verifier.Refused, match="rollback"):
            observe(stack, witness)
        # ...then written again past the size seen: another history.
        submit(stack, 8)
        assert verifier.Checkpoint(stack.api("dgs").get(
            "/v1/log/checkpoint").json()["note"]).size > seen.size
        with pytest.raises(verifier.Refused, match="does not extend"):
            observe(stack, witness)
        assert json.loads((tmp_path / "party.json").read_text())["checkpoint"] == seen.note
        hub_witness.check()
        assert LOG_CONSISTENT._value.get() == 0
        assert "does not extend" in hub_witness.broken
    finally:
        LOG_CONSISTENT.set(1)


def test_the_hubs_role_cannot_touch_the_log(pg_stack):
    stack = pg_stack
    submit(stack)
    hub = create_engine(as_hub_role(stack.owner_url), isolation_level="AUTOCOMMIT")
    refused = [
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "DROP TRIGGER log_nodes_append_only ON log_nodes",
        "ALTER TABLE evidence DISABLE TRIGGER evidence_append_only",
        "DROP TABLE log_checkpoints",
        "UPDATE audit_log SET action = 'x'",
        "DELETE FROM evidence",
        "TRUNCATE log_leaves",
        "UPDATE log_checkpoints SET note = 'x'",
        "CREATE TABLE sneaky (id int)",
    ]
    with hub.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM log_checkpoints")).scalar() > 0
        for statement in refused:
            with pytest.raises(DBAPIError):
                conn.execute(text(statement))
    hub.dispose()
    owner = _owner(stack)
    with owner.connect() as conn:  # the owner could: the test above can fail
        conn.execute(text("ALTER TABLE evidence DISABLE TRIGGER evidence_append_only"))
        conn.execute(text("ALTER TABLE evidence ENABLE TRIGGER evidence_append_only"))
    owner.dispose()


def test_log_commands(stack, tmp_path):
    env = {**os.environ, "VIGIE_DATABASE_URL": stack.settings.database_url,
           "VIGIE_STATE_DIR": str(stack.settings.state_dir),
           "VIGIE_PUBLIC_URL": stack.settings.public_url, "VIGIE_ISSUER": stack.settings.issuer}
    run = [sys.executable, "-m", "services.cli", "log"]
    note = subprocess.run([*run, "checkpoint"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert note.returncode == 0, note.stderr
    keys_file = tmp_path / "keys.json"
    shown = subprocess.run([*run, "keys"], env=env, capture_output=True, text=True, timeout=60)
    keys_file.write_text(shown.stdout)
    (tmp_path / "cp.txt").write_text(note.stdout)
    checked = subprocess.run([sys.executable, str(Path(verifier.__file__)), "checkpoint",
                              str(tmp_path / "cp.txt"), "--keys", str(keys_file)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "checkpoint verified" in checked.stdout, checked.stdout
    entry = json.loads(subprocess.run([*run, "new-key"], env=env, capture_output=True,
                                      text=True, timeout=60).stdout)
    assert len(base64.b64decode(entry["private_key"])) == 32


def test_the_audit_retention_purges_who_consulted_what_and_everything_still_verifies(
        own_stack):
    """Past the audit retention, an entry loses who consulted what and why (client,
    object, agent, purpose); its place, time, links and hash stay, so the chain and the
    signed log verify. The hub's role can do that and nothing else to an entry."""
    from datetime import timedelta
    from urllib.parse import quote

    from services.audit.models import AuditEntry
    from services.db import utcnow
    from services.retention.service import purge_audit

    stack = own_stack
    item = submit(stack, 2)[0]
    api = stack.api("tj-paris")
    api.extra_headers["Vigie-Agent"] = quote("agent-7781 (Mme Greffière)")
    api.extra_headers["Vigie-Purpose"] = quote("Suivi de la procédure 24069000321")
    assert api.get(f"/v1/information-requests/{item}").status_code == 200
    with stack.hub.db.sessions() as session:
        seen = session.scalars(select(AuditEntry).where(
            AuditEntry.object == f"/v1/information-requests/{item}",
            AuditEntry.action == "GET information-requests.read")).one()
        assert (seen.agent, seen.purpose) == ("agent-7781 (Mme Greffière)",
                                              "Suivi de la procédure 24069000321")
        assert seen.request_id  # the request's id, which leads to the caller's own logs
        seq = seen.seq
    assert audit_verify(stack).returncode == 0

    later = utcnow() + timedelta(days=366)
    count = purge_audit(stack.hub.db, stack.hub.writer, stack.settings, later)
    assert count >= seq
    with stack.hub.db.sessions() as session:
        purged = session.get(AuditEntry, seq)
        assert purged.purged and (purged.client_id, purged.object, purged.agent,
                                  purged.purpose, purged.request_id) == ("", "", None, None,
                                                                         None)
        assert purged.org_id == "tj-paris" and purged.outcome == 200
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last.action == "PURGE audit retention" and not last.purged
    done = audit_verify(stack)
    assert done.returncode == 0, done.stderr
    assert purge_audit(stack.hub.db, stack.hub.writer, stack.settings, later) == 0
    # The hub's role cannot use the purge to rewrite an entry.
    with pytest.raises(DBAPIError), stack.hub.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET outcome = 500, client_id = '', object = '' "
                          "WHERE seq = :s"), {"s": seq + 1})
