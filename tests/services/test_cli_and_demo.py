"""The `vigie` command as an operator uses it: set-up, organisations and clients, the
API under uvicorn, the consumers process, and `vigie demo` end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import ECKey

from services.runner import VIGIE, free_port, wait_http


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request, broker, database_factory, tmp_path) -> dict[str, str]:
    port = free_port()
    return {**os.environ,
            "VIGIE_STATE_DIR": str(tmp_path),
            "VIGIE_DATABASE_URL": database_factory(request.param),
            "VIGIE_KAFKA_PORT": str(broker.settings.kafka_port),
            "VIGIE_TOPIC_PREFIX": f"cli{uuid.uuid4().hex[:8]}.",
            "VIGIE_TOPIC_PARTITIONS": "2",
            "VIGIE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "VIGIE_TEST_HTTP_PORT": str(port)}


def _run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([*VIGIE, *args], env=env, capture_output=True, text=True, timeout=120)


def test_setup_org_and_client_commands(env):
    assert _run(env, "setup", "--demo").returncode == 0
    clients = json.loads((Path(env["VIGIE_STATE_DIR"]) / "dev-clients.json").read_text())
    types = [c["org_type"] for c in clients]
    for kind in ("court", "prosecution", "state_service", "health_order", "platform",
                 "trusted_flagger"):
        assert types.count(kind) >= 2, kind
    assert {"regulator", "operator"} <= set(types)
    assert all(set(c) == {"org_id", "org_type", "client_id", "client_secret", "scopes"}
               for c in clients)

    # A court is registered with the jurisdiction it acts for; its name is the court's.
    unbound = _run(env, "org", "add", "--id", "tj-bordeaux", "--type", "court",
                   "--name", "Tribunal judiciaire de Bordeaux")
    assert unbound.returncode == 2 and "jurisdiction" in unbound.stderr
    added = _run(env, "org", "add", "--id", "tj-bordeaux", "--type", "court",
                 "--name", "Tribunal judiciaire de Bordeaux", "--jurisdiction", "TJ-BORDEAUX")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["id"] == "tj-bordeaux"
    assert json.loads(added.stdout)["jurisdiction_name"] == "Tribunal judiciaire de Bordeaux"
    # A prosecution office names its jurisdiction; a platform has none.
    parquet = ["org", "add", "--id", "pr-bordeaux", "--type", "prosecution",
               "--name", "Parquet de Bordeaux", "--jurisdiction", "TJ-BORDEAUX"]
    assert _run(env, *parquet).returncode == 2
    parquet += ["--jurisdiction-name", "Tribunal judiciaire de Bordeaux"]
    assert _run(env, *parquet).returncode == 0
    moved = _run(env, "org", "update", "--id", "pr-bordeaux", "--jurisdiction", "TJ-LIBOURNE",
                 "--jurisdiction-name", "Tribunal judiciaire de Libourne")
    assert json.loads(moved.stdout)["jurisdiction"] == "TJ-LIBOURNE", moved.stderr
    assert _run(env, "org", "update", "--id", "pr-bordeaux",
                "--jurisdiction", "tj libourne").returncode == 2
    assert _run(env, "org", "add", "--id", "plateforme-x", "--type", "platform",
                "--name", "X", "--jurisdiction", "TJ-PARIS").returncode == 2
    # A trusted flagger's status, as the coordinator decided it (DSA art. 22).
    assert _run(env, "org", "add", "--id", "signaleur-x", "--type", "trusted_flagger",
                "--name", "Association fictive X").returncode == 0
    awarded = _run(env, "org", "flagger", "--id", "signaleur-x", "--status", "awarded",
                   "--areas", "fraud,psychological_subjection", "--from", "2025-01-01",
                   "--decision", "ARCOM n° 2025-01")
    assert json.loads(awarded.stdout)["areas"] == ["fraud", "psychological_subjection"], \
        awarded.stderr
    for bad in ({"--areas": "astrology"}, {"--id": "dgs"}, {"--areas": ""}):
        args = {"--id": "signaleur-x", "--status": "awarded", "--areas": "fraud",
                "--from": "2025-01-01", "--decision": "d", **bad}
        refused = _run(env, "org", "flagger", *[x for kv in args.items() for x in kv])
        assert refused.returncode == 2, bad
    client = _run(env, "client", "add", "--org", "tj-bordeaux",
                  "--scope", "information-requests:submit", "--scope", "feed:read")
    assert client.returncode == 0, client.stderr
    creds = json.loads(client.stdout)
    assert creds["org_id"] == "tj-bordeaux" and creds["client_secret"]
    assert creds["scopes"] == ["feed:read", "information-requests:submit"]

    # Onboarded with its public key: no secret exists; a private key is refused.
    key = ECKey.generate_key("P-256")
    jwk = Path(env["VIGIE_STATE_DIR"]) / "tj-bordeaux.jwk"
    jwk.write_text(json.dumps(key.as_dict(private=False)))
    keyed = _run(env, "client", "add", "--org", "tj-bordeaux", "--jwk", str(jwk))
    assert keyed.returncode == 0, keyed.stderr
    keyed = json.loads(keyed.stdout)
    assert "client_secret" not in keyed and keyed["key"]["kid"] == key.thumbprint()
    jwk.write_text(json.dumps(key.as_dict(private=True)))
    private = _run(env, "client", "add", "--org", "tj-bordeaux", "--jwk", str(jwk))
    assert private.returncode == 2 and "private key" in private.stderr

    refused = _run(env, "client", "add", "--org", "tj-bordeaux", "--scope", "admin")
    assert refused.returncode == 2 and "cannot hold admin" in refused.stderr
    dup = _run(env, "org", "add", "--id", "tj-bordeaux", "--type", "court", "--name", "x")
    assert dup.returncode == 2 and "exists already" in dup.stderr
    bad = _run(env, "org", "add", "--id", "Not A Slug", "--type", "court", "--name", "x")
    assert bad.returncode == 2
    # The broker's principals and the hub's own prefix cannot be taken.
    for reserved in ("vigie", "anonymous", "vigie-ops"):
        done = _run(env, "org", "add", "--id", reserved, "--type", "court", "--name", "x")
        assert done.returncode == 2 and "reserved" in done.stderr, reserved
    for client_id in ("ANONYMOUS", "anonymous", "tj-lyon-x", "dgs"):
        done = _run(env, "client", "add", "--org", "dgs", "--client-id", client_id)
        assert done.returncode == 2, client_id
    assert (Path(env["VIGIE_STATE_DIR"]) / "dev-clients.json").stat().st_mode & 0o077 == 0


def test_demo_against_the_running_hub(env):
    assert _run(env, "setup", "--demo").returncode == 0
    port = env["VIGIE_TEST_HTTP_PORT"]
    metrics_port = str(free_port())
    procs = [
        subprocess.Popen([*VIGIE, "serve", "--port", port], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
        subprocess.Popen([*VIGIE, "consumers", "--metrics-port", metrics_port], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/readyz", proc=procs[0])
        demo = _run(env, "demo", "--url", base)
        assert demo.returncode == 0, demo.stderr
        lines = demo.stdout.splitlines()
        assert lines[0] == "— information-requests"
        assert lines[1].startswith("1. tj-paris submitted request")
        assert "miviludes answered: answered" in demo.stdout
        assert "the answer reached tj-paris' feed" in demo.stdout
        assert "7. the DGS asking for it gets 404 (isolation)" in lines
        assert "routed by profession to cnop: delivered" in demo.stdout
        assert "8a. pr-paris uploaded the judgment (PDF" in demo.stdout
        assert "9a. cnop downloaded the judgment" in demo.stdout and "digest matches" in \
            demo.stdout
        assert "9b. cnop printed the sealed record" in demo.stdout
        assert "12a. the judgment was destroyed with the personal data: GET answers 410" \
            in demo.stdout
        assert "pr-paris sent the outcome (relaxe): retracted" in demo.stdout
        retraction = next(line for line in lines if line.startswith("12. "))
        assert retraction.startswith("12. cnop's feed got the retraction (erase=True)")
        assert "Moreau" not in retraction
        assert ("13. vigilance-alpha (trusted flagger) notified plateforme-alpha: lane "
                "priority") in lines
        assert "linked as duplicate_of" in demo.stdout
        assert "plateforme-alpha: executed" in demo.stdout
        assert any(line.startswith("17. ARCOM oversight for plateforme-alpha: 2 notices "
                                   "received, 1 decided, priority share 0.5") for line in lines)
        # The signalement: pseudonyms, identities with a purpose, routed three ways; the
        # association told the category only.
        assert "the hub keeps the people as ['P1', 'P2']" in demo.stdout
        assert "S2. miviludes, stating its purpose, reads who P1 is: Roux (audited)" in lines
        assert "routed by place to pr-marseille" in demo.stdout
        assert "S4. and to the order governing the profession: cnop" in lines
        assert ("S6. asso-entraide-sud's feed says only: "
                "{'qualification': 'onward_routing'}") in lines
        assert "R3. miviludes was told: classement_sans_suite, reasons legal" in lines
        assert "decision: temporary_ban (decided)" in demo.stdout
        one = _run(env, "demo", "--url", base, "--exchange", "offence-reports")
        assert one.returncode == 0, one.stderr
        assert one.stdout.splitlines()[0] == "— offence-reports"
        assert not any(line.startswith(("1.", "S1.", "O1.")) for line in
                       one.stdout.splitlines())
        unknown = _run(env, "demo", "--url", base, "--exchange", "nothing")
        assert unknown.returncode != 0 and "no exchange 'nothing'" in unknown.stderr
        metrics = httpx.get(f"{base}/metrics").text
        assert 'vigie_submissions_total{action="submit",exchange="information-requests",' \
               'outcome="accepted"} 1.0' in metrics
        assert "vigie_outbox_backlog" in metrics
        assert 'route="information-requests.submit"' in metrics
        # Delivery to the feeds is the API's commit; the relay carries it to the topics.
        assert ('vigie_delivery_latency_seconds_count{exchange="order-notifications",'
                'lane="standard"} 3.0') in metrics
        assert 'vigie_deliveries_total{channel="feed",outcome="delivered"}' in metrics
        consumer_metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        topic = re.escape(f'{env["VIGIE_TOPIC_PREFIX"]}feed.miviludes')
        assert re.search(rf'vigie_messages_produced_total{{topic="{topic}"}} [1-9]',
                         consumer_metrics)
        assert re.search(r'vigie_deliveries_total\{channel="kafka",outcome="delivered"\} [1-9]',
                         consumer_metrics)
        _witness_from_a_platform(env, base, metrics_port)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def _witness_from_a_platform(env, base: str, metrics_port: str) -> None:
    """A platform pins the key set once, then witnesses the log from its side with
    `vigie log witness` (its own client, a state file), before and after new traffic."""
    state = Path(env["VIGIE_STATE_DIR"])
    (state / "vigie-log-keys.json").write_text(
        httpx.get(f"{base}/.well-known/vigie-log-keys.json").text)
    client = next(c for c in json.loads((state / "dev-clients.json").read_text())
                  if c["org_id"] == "plateforme-alpha")
    (state / "secret").write_text(client["client_secret"])
    witness = ["log", "witness", "--url", base, "--client-id", client["client_id"],
               "--client-secret-file", str(state / "secret"), "--keys",
               str(state / "vigie-log-keys.json"), "--state", str(state / "witness.json")]
    party = {k: v for k, v in env.items() if not k.startswith("VIGIE_")}
    first = _run(party, *witness)
    assert first.returncode == 0 and "log consistent" in first.stdout, first.stdout
    assert _run(env, "demo", "--url", base).returncode == 0
    second = _run(party, *witness)
    assert second.returncode == 0, second.stdout
    sizes = [int(re.search(r"consistent: (\d+) leaves", out.stdout)[1])
             for out in (first, second)]
    assert sizes[1] > sizes[0]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        if re.search(r"^vigie_log_size [1-9]", metrics, re.M):
            break
        time.sleep(1)
    assert re.search(r"^vigie_log_consistent 1\.0", metrics, re.M), metrics[-2000:]


def test_dead_letter_commands(env):
    from services.db import Database
    from services.webhooks.models import Webhook, WebhookDelivery

    assert _run(env, "setup", "--demo", "--skip-topics").returncode == 0
    db = Database(env["VIGIE_DATABASE_URL"])
    with db.transaction() as session:
        session.add(Webhook(id="w1", org_id="dgs", url="https://hooks.example.org/x",
                            secret="whsec_" + "A" * 44))
        session.flush()
        session.add(WebhookDelivery(webhook_id="w1", org_id="dgs", feed_seq=1,
                                    message_id="m1", status="dead", attempts=8))
    db.engine.dispose()
    listed = json.loads(_run(env, "dlq", "list").stdout)
    assert [(d["message_id"], d["status"]) for d in listed] == [("m1", "dead")]
    replayed = _run(env, "dlq", "replay", str(listed[0]["id"]))
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["status"] == "pending"
    again = _run(env, "dlq", "replay", str(listed[0]["id"]))
    assert again.returncode == 2 and "not dead" in again.stderr
    assert json.loads(_run(env, "dlq", "list").stdout) == []


def test_keys_rotate_command(env):
    assert _run(env, "setup", "--skip-topics").returncode == 0
    before = json.loads(_run(env, "keys", "list").stdout)
    assert [k["state"] for k in before] == ["active"]
    rotated = _run(env, "keys", "rotate", "--publish-wait", "0")
    assert rotated.returncode == 0, rotated.stderr
    result = json.loads(rotated.stdout)
    assert result["retired"] == [before[0]["kid"]]
    states = {k["kid"]: k["state"] for k in json.loads(_run(env, "keys", "list").stdout)}
    assert states == {before[0]["kid"]: "retired", result["active"]: "active"}
    published = json.loads((Path(env["VIGIE_STATE_DIR"]) / "kafka" / "jwks.json").read_text())
    assert {k["kid"] for k in published["keys"]} == set(states)


def test_consumers_roles_run_apart(env):
    """Each role scales on its own Deployment: a process runs only the roles it is given."""
    assert _run(env, "setup", "--demo").returncode == 0
    bad = _run(env, "consumers", "--roles", "relay,bogus", "--metrics-port", "0")
    assert bad.returncode != 0 and "unknown roles ['bogus']" in bad.stderr
    gone = _run(env, "consumers", "--roles", "delivery", "--metrics-port", "0")
    assert gone.returncode != 0 and "unknown roles ['delivery']" in gone.stderr
    proc = subprocess.Popen([*VIGIE, "consumers", "--roles", "webhooks",
                             "--metrics-port", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert line.strip() == "vigie consumers running (webhooks)"
    assert proc.returncode == 0
