#!/usr/bin/env python3
"""The chart's generated files, from the exchange registry: the Grafana dashboards
(helm/vigie/files/dashboards/*.json, dashboards as code).

    make chart-files                                 # write them
    .venv/bin/python tools/chart_files.py --check    # fail if they are not up to date

A new exchange gets its dashboard by running `make chart-files`.

The chart ships the JSON as ConfigMaps for the Grafana sidecar; tests/monitoring runs
every query of every panel against a real Prometheus scraping the hub.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.exchanges.registry import EXCHANGES
from services.legal.references import REFERENCES

FILES = Path(__file__).resolve().parent.parent / "helm" / "vigie" / "files"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


class Board:
    """Panels laid out left to right, 24 columns wide, in rows of `height`."""

    def __init__(self, uid: str, title: str, description: str):
        self.uid, self.title, self.description = uid, title, description
        self.panels: list[dict] = []
        self._x = self._y = 0
        self._row_height = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append({"id": len(self.panels) + 1, "type": "row", "title": title,
                            "collapsed": False, "gridPos": {"x": 0, "y": self._y, "w": 24, "h": 1},
                            "panels": []})
        self._y += 1

    def _newline(self) -> None:
        if self._x:
            self._x, self._y, self._row_height = 0, self._y + self._row_height, 0

    def panel(self, kind: str, title: str, targets: list[tuple[str, str]], unit: str = "short",
              width: int = 8, height: int = 8, description: str = "",
              thresholds: list[tuple[float, str]] | None = None) -> None:
        if self._x + width > 24:
            self._newline()
        steps = [{"color": "green", "value": None}] + [
            {"color": color, "value": value} for value, color in (thresholds or [])]
        self.panels.append({
            "id": len(self.panels) + 1, "type": kind, "title": title,
            "description": description, "datasource": DATASOURCE,
            "gridPos": {"x": self._x, "y": self._y, "w": width, "h": height},
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {
                "mode": "absolute", "steps": steps}}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
            if kind == "timeseries" else {"reduceOptions": {"calcs": ["lastNotNull"]}},
            "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr,
                         "legendFormat": legend} for i, (expr, legend) in enumerate(targets)],
        })
        self._x += width
        self._row_height = max(self._row_height, height)

    def to_json(self) -> dict:
        return {
            "uid": self.uid, "title": self.title, "description": self.description,
            "tags": ["vigie"], "timezone": "browser", "editable": False,
            "schemaVersion": 39, "version": 1, "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": [{"name": "datasource", "type": "datasource",
                                     "query": "prometheus", "label": "Data source"}]},
            "annotations": {"list": []}, "links": [{"title": "Vigie", "type": "dashboards",
                                                    "tags": ["vigie"], "asDropdown": True}],
            "panels": self.panels,
        }


def quantile(q: float, metric: str, by: str, where: str = "") -> str:
    return (f"histogram_quantile({q}, sum by (le, {by}) "
            f"(rate({metric}_bucket{where}[$__rate_interval])))")


def overview() -> Board:
    b = Board("vigie-overview", "Vigie / Overview",
              "Is every message accepted, delivered and answered in time?")
    b.row("Legal deadlines")
    b.panel("stat", "Items past their deadline", [
        ("max by (exchange) (vigie_items_overdue)", "{{exchange}}")], width=8,
        thresholds=[(1, "red")],
        description="Open items past their deadline (VigieLegalDeadlineOverdue)")
    b.panel("stat", "Not on the recipient's topic after the target", [
        ("max by (exchange) (vigie_items_delivery_late)", "{{exchange}}")], width=8,
        thresholds=[(1, "red")], description="Order notifications: one minute (VigieDeliveryLate)")
    b.panel("stat", "Dependencies reached by the API", [
        ("min by (dependency) (vigie_dependency_up)", "{{dependency}}")], width=8,
        thresholds=[(1, "green")], description="1 = reached, 0 = unreachable")
    b.row("Traffic")
    b.panel("timeseries", "Submissions and steps accepted / refused per second", [
        ("sum by (exchange, outcome) (rate(vigie_submissions_total[$__rate_interval]))",
         "{{exchange}} {{outcome}}")], unit="reqps", width=12)
    b.panel("timeseries", "API answers per second by status class", [
        ('sum by (status) (rate(vigie_http_requests_total[$__rate_interval]))', "{{status}}")],
        unit="reqps", width=12)
    b.panel("timeseries", "API latency (p50, p95, p99)", [
        (quantile(0.5, "vigie_http_request_duration_seconds", "method"), "p50 {{method}}"),
        (quantile(0.95, "vigie_http_request_duration_seconds", "method"), "p95 {{method}}"),
        (quantile(0.99, "vigie_http_request_duration_seconds", "method"), "p99 {{method}}")],
        unit="s", width=12)
    b.panel("timeseries", "Share of 5xx answers", [
        ('(sum(rate(vigie_http_requests_total{status=~"5.."}[$__rate_interval])) or vector(0))'
         " / clamp_min(sum(rate(vigie_http_requests_total[$__rate_interval])), 1e-9)",
         "5xx share")], unit="percentunit", width=12, thresholds=[(0.01, "red")])
    b.row("Pipeline")
    b.panel("timeseries", "Outbox backlog", [("max(vigie_outbox_backlog)", "waiting")], width=8)
    b.panel("timeseries", "Oldest message waiting in the outbox", [
        ("max(vigie_outbox_oldest_age_seconds)", "age")], unit="s", width=8,
        thresholds=[(120, "red")])
    b.panel("timeseries", "Requests committed together (write groups, p50 / p99)", [
        ("histogram_quantile(0.5, sum by (le) (rate(vigie_write_group_size_bucket"
         "[$__rate_interval])))", "p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(vigie_write_group_size_bucket"
         "[$__rate_interval])))", "p99")], width=8)
    b.panel("timeseries", "Refused at capacity per second (503 Retry-After), by stage", [
        ("sum by (stage) (rate(vigie_overload_refusals_total[$__rate_interval]))",
         "{{stage}}")], unit="reqps", width=8)
    b.row("Documents")
    b.panel("timeseries", "Documents kept (encrypted, as uploaded)", [
        ("max(vigie_documents_stored_bytes)", "bytes")], unit="bytes", width=8)
    b.panel("timeseries", "Documents kept, attached to an item or not yet", [
        ("max by (attached) (vigie_documents_stored)", "attached={{attached}}")], width=8)
    b.panel("timeseries", "Uploads refused per second, by reason", [
        ("sum by (reason) (rate(vigie_document_refusals_total[$__rate_interval]))",
         "{{reason}}")], unit="reqps", width=8)
    b.row("Console")
    b.panel("timeseries", "Sign-ins per minute, by outcome", [
        ("sum by (outcome) (rate(vigie_console_sign_ins_total[$__rate_interval])) * 60",
         "{{outcome}}")], width=8)
    b.panel("timeseries", "Console submissions and steps per minute, by outcome", [
        ("sum by (outcome) (rate(vigie_console_actions_total[$__rate_interval])) * 60",
         "{{outcome}}")], width=8)
    b.panel("timeseries", "E-mail notices to agents per hour, by outcome", [
        ("sum by (outcome) (rate(vigie_agent_notices_total[$__rate_interval])) * 3600",
         "{{outcome}}")], width=8)
    b.row("Security")
    b.panel("timeseries", "Refused credentials per second by reason", [
        ("sum by (reason) (rate(vigie_auth_failures_total[$__rate_interval]))", "{{reason}}")],
        unit="reqps", width=12)
    b.panel("timeseries", "Access tokens issued per second by organisation type", [
        ("sum by (org_type) (rate(vigie_tokens_issued_total[$__rate_interval]))",
         "{{org_type}}")], unit="reqps", width=12)
    return b


def exchange_board(name: str, title: str, steps: list[str], delivery_target: bool) -> Board:
    where = f'{{exchange="{name}"}}'
    b = Board(f"vigie-{name}", f"Vigie / {title}",
              f"Submissions, delivery and the recipient's answers for {name}")
    b.row("Now")
    width = 6 if delivery_target else 8
    b.panel("stat", "Past their deadline", [(f"max(vigie_items_overdue{where})", "overdue")],
            width=width, thresholds=[(1, "red")])
    if delivery_target:
        b.panel("stat", "Not on the recipient's topic after the target",
                [(f"max(vigie_items_delivery_late{where})", "late")], width=width,
                thresholds=[(1, "red")])
    b.panel("stat", "Accepted in the last 24 h", [
        (f'sum(increase(vigie_submissions_total{{exchange="{name}",action="submit",'
         f'outcome="accepted"}}[24h]))', "submissions")], width=width)
    b.panel("stat", "Refused in the last 24 h", [
        (f'sum(increase(vigie_submissions_total{{exchange="{name}",outcome="refused"}}[24h]))',
         "refused")], width=width)
    b.row("Flow")
    b.panel("timeseries", "Accepted and refused per second, by step", [
        (f"sum by (action, outcome) (rate(vigie_submissions_total{where}[$__rate_interval]))",
         "{{action}} {{outcome}}")], unit="reqps", width=12)
    b.panel("timeseries", "Delivery latency, received → committed in the feed (p50, p99)", [
        (quantile(0.5, "vigie_delivery_latency_seconds", "lane", where), "p50 {{lane}}"),
        (quantile(0.99, "vigie_delivery_latency_seconds", "lane", where), "p99 {{lane}}")],
        unit="s", width=12)
    b.row("Answers")
    b.panel("timeseries", "Time from submission to each step (median)", [
        (quantile(0.5, "vigie_step_seconds", "action", where), "{{action}}")], unit="s",
        width=12, description="Steps: " + ", ".join(steps))
    b.panel("timeseries", "API latency of this exchange's routes (p95)", [
        (quantile(0.95, "vigie_http_request_duration_seconds", "route",
                  f'{{route=~"{name}\\\\..*"}}'), "{{route}}")], unit="s", width=12)
    return b


def deliveries() -> Board:
    b = Board("vigie-deliveries", "Vigie / Deliveries",
              "Feeds, recipients' Kafka topics and webhooks")
    b.row("Channels")
    b.panel("timeseries", "Deliveries per second by channel", [
        ("sum by (channel, outcome) (rate(vigie_deliveries_total[$__rate_interval]))",
         "{{channel}} {{outcome}}")], unit="reqps", width=12)
    b.panel("timeseries", "Delivery latency by exchange (p99)", [
        (quantile(0.99, "vigie_delivery_latency_seconds", "exchange"), "{{exchange}}")],
        unit="s", width=12)
    b.row("Webhooks")
    b.panel("timeseries", "Webhook attempts per second by outcome", [
        ("sum by (outcome) (rate(vigie_webhook_attempts_total[$__rate_interval]))",
         "{{outcome}}")], unit="reqps", width=12)
    b.panel("stat", "Dead letters", [("max(vigie_webhook_dead_letters)", "dead letters")],
            width=12, thresholds=[(1, "orange")])
    b.row("Kafka")
    b.panel("timeseries", "Messages relayed from the outbox per second", [
        ("sum(rate(vigie_messages_produced_total[$__rate_interval]))", "produced")],
        unit="reqps", width=8)
    b.panel("timeseries", "Relays publishing (leader) and relay failures", [
        ("sum(vigie_relay_leader)", "leaders"),
        ("sum(increase(vigie_produce_failures_total[$__rate_interval])) or vector(0)",
         "produce failures")], width=8)
    b.panel("timeseries", "Oldest message not yet on its recipient's topic", [
        ("max(vigie_outbox_oldest_age_seconds)", "age")], unit="s", width=8)
    b.row("Verifiable log")
    b.panel("stat", "Log consistent (the hub's witness)", [
        ("min(vigie_log_consistent)", "consistent")], width=8)
    b.panel("timeseries", "Leaves in the latest witnessed checkpoint", [
        ("max(vigie_log_size)", "leaves")], width=8)
    b.panel("timeseries", "Age of the latest witnessed checkpoint", [
        ("time() - max(vigie_log_checkpoint_timestamp_seconds)", "age")], unit="s", width=8)
    return b


def generated() -> dict[str, dict]:
    return {f"dashboards/{name}": board for name, board in boards().items()}


def boards() -> dict[str, dict]:
    out = {"overview.json": overview().to_json(), "deliveries.json": deliveries().to_json()}
    for name, exchange in EXCHANGES.items():
        # Every reference the dated table holds for it (not the one of the day the file
        # was generated: the file would go stale on a date).
        cited = " / ".join(dict.fromkeys(r.reference for r in REFERENCES.all()
                                         if r.key == name))
        title = f"{name.replace('-', ' ').capitalize()} ({cited})"
        steps = [t.action for t in exchange.transitions]
        out[f"{name}.json"] = exchange_board(name, title, steps,
                                             exchange.delivery_target is not None).to_json()
    return out


def render(board: dict) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for filename, board in generated().items():
        path = FILES / filename
        if args.check:
            if not path.exists() or path.read_text() != render(board):
                stale.append(filename)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(board))
    if stale:
        print("out of date (run make chart-files): " + ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
