"""The backup runbook (README, Operations), played: the database dumped while the hub
runs, restored into a fresh database, a hub started on it serves what it held, and the
audit chain and the signed log verify — PostgreSQL with pg_dump/pg_restore, SQLite with
its online backup."""

from __future__ import annotations

import glob
import json
import os
import shutil
import sqlite3
import subprocess

import httpx

from services.runner import VIGIE, free_port, wait_http
from tests.conftest import example_request


def _pg(tool: str) -> str:
    found = shutil.which(tool) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))[-1]
    return found


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _backup(stack, restored: str, tmp_path) -> None:
    if stack.backend == "postgresql":
        dump = tmp_path / "vigie.dump"
        # As the schema's owner; restored without roles or grants (`vigie db upgrade`
        # grants the hub's role on the restored database).
        subprocess.run([_pg("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                        f"--file={dump}", _libpq(stack.owner_url)], check=True,
                       capture_output=True, text=True)
        done = subprocess.run([_pg("pg_restore"), "--no-owner", "--no-privileges",
                               "--exit-on-error", f"--dbname={_libpq(restored)}", str(dump)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    else:
        source = sqlite3.connect(stack.settings.database_url.removeprefix("sqlite:///"))
        target = sqlite3.connect(restored.removeprefix("sqlite:///"))
        with target:
            source.backup(target)
        source.close()
        target.close()


def test_a_backup_restored_into_a_fresh_database_serves_and_verifies(
        stack, database_factory, tmp_path):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    item = court.post("/v1/information-requests", example_request()).json()
    miviludes.wait_delivered(item["id"])
    acknowledged = miviludes.post(f"/v1/information-requests/{item['id']}/acknowledgement",
                                  {"reference": "MIV-BACKUP-1"})
    assert acknowledged.status_code == 201, acknowledged.text

    restored = database_factory(stack.backend)
    _backup(stack, restored, tmp_path)
    # The keys outside the database (data keys, the records' seal) come with the backup.
    state = tmp_path / "state"
    shutil.copytree(stack.settings.state_dir, state,
                    ignore=shutil.ignore_patterns("run", "kafka", "*.sock"))
    env = {**os.environ, "VIGIE_DATABASE_URL": restored, "VIGIE_STATE_DIR": str(state),
           "VIGIE_KAFKA_PORT": str(stack.settings.kafka_port),
           "VIGIE_TOPIC_PREFIX": stack.settings.topic_prefix, "VIGIE_CONSOLE": "0",
           "VIGIE_LOG_ORIGIN": stack.settings.log_origin}
    upgraded = subprocess.run([*VIGIE, "db", "upgrade"], env=env, capture_output=True,
                              text=True, timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    verified = subprocess.run([*VIGIE, "audit", "verify"], env=env, capture_output=True,
                              text=True, timeout=120)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["intact"] is True

    port = free_port()
    server = subprocess.Popen([*VIGIE, "serve", "--port", str(port)],
                              env={**env, "VIGIE_PUBLIC_URL": f"http://127.0.0.1:{port}"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/readyz", proc=server)
        creds = stack.creds["tj-paris"]
        token = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(creds["client_id"], creds["client_secret"])).json()
        served = httpx.get(f"{base}/v1/information-requests/{item['id']}", headers={
            "Authorization": f"Bearer {token['access_token']}"})
        assert served.status_code == 200, served.text
        assert served.json()["status"] == "acknowledged"
        assert served.json()["content"] == item["content"]
        bundle = httpx.get(f"{base}/v1/information-requests/{item['id']}/evidence/bundle",
                           headers={"Authorization": f"Bearer {token['access_token']}"})
        assert bundle.status_code == 200
        assert {r["claims"]["step"] for r in bundle.json()["records"]} >= {
            "submitted", "delivered", "acknowledged"}
    finally:
        server.terminate()
        server.wait(timeout=30)
