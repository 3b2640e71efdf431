"""A real Prometheus (Debian's) scrapes the hub running as in production — API and
consumers processes — while a scripted set of exchanges is played. Then every query of
every dashboard must return data, and every alert rule must evaluate, use only metrics
the hub exports, and the alerts the scenario provokes must be pending or firing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from services.config import ROOT
from services.exchanges.registry import EXCHANGES
from services.runner import HubProcesses, free_port, wait_http
from tests.conftest import (
    NO_ACTION,
    example_answer,
    example_notice,
    example_notification,
    example_offence_report,
    example_order,
    example_order_report,
    example_request,
    example_signalement,
)

FILES = ROOT / "helm" / "vigie" / "files"
RULES = FILES / "prometheus" / "alerts.yaml"
DASHBOARDS = sorted((FILES / "dashboards").glob("*.json"))
# The alerts the scenario below provokes.
PROVOKED = {"VigieLegalDeadlineOverdue", "VigieWebhookDeadLetters",
            "VigieAuthenticationFailureSpike"}


@pytest.fixture(scope="module")
def hub(broker, database_factory, tmp_path_factory):
    procs = HubProcesses(tmp_path_factory.mktemp("prometheus-hub"),
                         database_factory("postgresql"), broker.settings.kafka_port,
                         extra_env={
                             # Deadlines that pass during the test, to see them overdue.
                             "VIGIE_DEADLINE_ORDER_NOTIFICATIONS_ACKNOWLEDGEMENT": "1s",
                             "VIGIE_DEADLINE_SUSPENSION_ORDERS_EXECUTION": "1s",
                             "VIGIE_WEBHOOK_ALLOW_HTTP": "1",
                             "VIGIE_WEBHOOK_ALLOW_PRIVATE": "1",
                             "VIGIE_WEBHOOK_MAX_ATTEMPTS": "1",
                         })
    procs.start()
    yield procs
    procs.stop()


@pytest.fixture(scope="module")
def prometheus(hub, tmp_path_factory):
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus package is installed by tools/system-deps.sh"
    home = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "vigie-api", "static_configs": [{"targets": [f"127.0.0.1:{hub.port}"]}]},
            {"job_name": "vigie-consumers",
             "static_configs": [{"targets": [f"127.0.0.1:{hub.metrics_port}"]}]},
        ],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (home / "prometheus.log").open("wb")
    proc = subprocess.Popen([binary, f"--config.file={home / 'prometheus.yml'}",
                             f"--storage.tsdb.path={home / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/-/ready", proc=proc)
        # Targets are handed to the scrapers a few seconds after start: the scenario
        # must begin after the first scrape, or its first increments are invisible.
        deadline = time.monotonic() + 60
        while len([r for r in query(url, "up == 1")]) < 2:
            assert time.monotonic() < deadline, "Prometheus never scraped the hub"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _post(http: httpx.Client, token: str, path: str, body: dict) -> dict:
    resp = http.post(path, json=body, headers={"Authorization": f"Bearer {token}",
                                               "Idempotency-Key": str(uuid.uuid4())})
    assert resp.status_code == 201, resp.text
    return resp.json()


def _wait_delivered(http: httpx.Client, token: str, path: str) -> None:
    deadline = time.monotonic() + 60
    while http.get(path, headers={"Authorization": f"Bearer {token}"}).status_code != 200:
        assert time.monotonic() < deadline, path
        time.sleep(0.2)


def play_scenario(hub: HubProcesses) -> None:
    """Every exchange and its recipient's steps, refusals, forged tokens and a webhook
    whose receiver is down."""
    t = {org: hub.token(org) for org in ("tj-paris", "miviludes", "pr-marseille", "cnop",
                                        "vigilance-alpha", "plateforme-alpha", "tj-lyon",
                                        "plateforme-beta", "asso-entraide-sud")}
    with httpx.Client(base_url=hub.url, timeout=30) as http:
        dead_port = free_port()
        resp = http.post("/v1/webhooks", json={"url": f"http://127.0.0.1:{dead_port}/hook"},
                         headers={"Authorization": f"Bearer {t['plateforme-alpha']}",
                                  "Idempotency-Key": str(uuid.uuid4())})
        assert resp.status_code == 201, resp.text

        req = _post(http, t["tj-paris"], "/v1/information-requests", example_request())
        notif = _post(http, t["pr-marseille"], "/v1/order-notifications",
                      example_notification())
        notice = _post(http, t["vigilance-alpha"], "/v1/content-notices", example_notice())
        order = _post(http, t["tj-lyon"], "/v1/suspension-orders", example_order())
        for token, path in ((t["miviludes"], f"/v1/information-requests/{req['id']}"),
                            (t["cnop"], f"/v1/order-notifications/{notif['id']}"),
                            (t["plateforme-alpha"], f"/v1/content-notices/{notice['id']}"),
                            (t["plateforme-beta"], f"/v1/suspension-orders/{order['id']}")):
            _wait_delivered(http, token, path)
        _post(http, t["miviludes"], f"/v1/information-requests/{req['id']}/acknowledgement",
              {"reference": "MIV-1"})
        _post(http, t["miviludes"], f"/v1/information-requests/{req['id']}/answer",
              example_answer(text="Le mouvement est connu depuis 2019."))
        _post(http, t["plateforme-alpha"], f"/v1/content-notices/{notice['id']}/decision",
              NO_ACTION)
        _post(http, t["cnop"], f"/v1/order-notifications/{notif['id']}/acknowledgement",
              {"reference": "CNOP-1"})
        _post(http, t["plateforme-beta"], f"/v1/suspension-orders/{order['id']}/execution",
              {"result": "executed", "blocked_at": datetime.now(UTC).isoformat(),
               "other_accounts": {"blocked": []}, "new_accounts": {"measures": "Refus."}})
        # The strategy's exchanges: a signalement, an art. 40 report, a report to an order,
        # each acknowledged, and each refused once.
        for sender, recipient, name, body in (
                ("asso-entraide-sud", "miviludes", "signalements", example_signalement()),
                ("miviludes", "pr-marseille", "offence-reports", example_offence_report()),
                ("miviludes", "cnop", "order-reports", example_order_report())):
            item = _post(http, t[sender], f"/v1/{name}", body)
            _wait_delivered(http, t[recipient], f"/v1/{name}/{item['id']}")
            ack = ({"parquet_number": "25123000456"} if name == "offence-reports"
                   else {"reference": "ACK-1"})
            _post(http, t[recipient], f"/v1/{name}/{item['id']}/acknowledgement", ack)
            refused = http.post(f"/v1/{name}", json={"facts": 3},
                                headers={"Authorization": f"Bearer {t[sender]}",
                                         "Idempotency-Key": str(uuid.uuid4())})
            assert refused.status_code == 422
        # Left unacknowledged and unexecuted: overdue after their one-second deadlines.
        _post(http, t["pr-marseille"], "/v1/order-notifications", example_notification())
        _post(http, t["tj-lyon"], "/v1/suspension-orders", example_order())
        # A refused submission.
        refused = http.post("/v1/information-requests", json={"recipient": 3},
                            headers={"Authorization": f"Bearer {t['tj-paris']}",
                                     "Idempotency-Key": str(uuid.uuid4())})
        assert refused.status_code == 422
        # Forged tokens, sustained: an authentication-failure spike.
        forged = t["tj-paris"][:-8] + "AAAAAAAA"
        for _ in range(300):
            assert http.get("/v1/feed", headers={
                "Authorization": f"Bearer {forged}"}).status_code == 401
        # And the recipients read their feeds.
        for org in ("miviludes", "cnop", "plateforme-alpha", "plateforme-beta", "tj-paris"):
            assert http.get("/v1/feed", headers={
                "Authorization": f"Bearer {t[org]}"}).status_code == 200


def query(prometheus: str, expr: str) -> list[dict]:
    resp = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=30)
    assert resp.status_code == 200, f"{expr}: {resp.text}"
    return resp.json()["data"]["result"]


def dashboard_queries() -> list[tuple[str, str, str]]:
    out = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], target["expr"]))
    return out


@pytest.fixture(scope="module")
def scraped(hub, prometheus):
    play_scenario(hub)
    # Enough scrapes after the scenario for rate() over a minute, and for the relay gauge.
    deadline = time.monotonic() + 60
    while not query(prometheus, "vigie_relay_leader") or not query(
            prometheus, "vigie_webhook_dead_letters > 0"):
        assert time.monotonic() < deadline, "the hub's metrics never reached Prometheus"
        time.sleep(1)
    time.sleep(5)
    return prometheus


def test_every_dashboard_query_returns_data(scraped):
    queries = dashboard_queries()
    assert len(DASHBOARDS) == 2 + len(EXCHANGES) and len(queries) > 40
    empty = [f"{board} / {title}: {expr}" for board, title, expr in queries
             if not query(scraped, expr.replace("$__rate_interval", "1m"))]
    assert not empty, "\n".join(empty)


def test_every_alert_rule_evaluates_on_the_hub_metrics(scraped):
    rules = yaml.safe_load(RULES.read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    exported = {m for expr in (r["expr"] for g in rules["groups"] for r in g["rules"])
                for m in re.findall(r"\bvigie_[a-z_]+", expr)}
    missing = [m for m in sorted(exported) if not query(scraped, f"count({m})")]
    assert not missing, f"metrics used by alerts but not exported: {missing}"

    deadline = time.monotonic() + 30
    while True:
        groups = httpx.get(f"{scraped}/api/v1/rules").json()["data"]["groups"]
        loaded = {r["name"]: r for g in groups for r in g["rules"]}
        active = {name for name, r in loaded.items() if r["state"] in ("pending", "firing")}
        if active >= PROVOKED or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert set(loaded) == names
    assert all(r["health"] == "ok" for r in loaded.values()), \
        {n: r.get("lastError") for n, r in loaded.items() if r["health"] != "ok"}
    assert active >= PROVOKED, active
    # Nothing is down, nothing is stuck.
    assert not active & {"VigieApiAbsent", "VigieConsumersAbsent", "VigieDatabaseUnreachable",
                         "VigieBrokerUnreachable", "VigieServerErrors", "VigieOutboxStuck"}


def test_rules_are_valid_for_promtool():
    promtool = shutil.which("promtool")
    assert promtool
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run([promtool, "test", "rules", "alerts_test.yaml"],
                           cwd=Path(__file__).parent, capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "SUCCESS" in tests.stdout


def test_generated_chart_files_are_up_to_date():
    done = subprocess.run([sys.executable,
                           str(ROOT / "tools" / "chart_files.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

