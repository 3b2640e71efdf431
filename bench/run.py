"""`make bench`: the hub's throughput and latency against two baselines measured in the
same run on the same machine — raw kafka-python producer throughput (the ceiling for
Python here) and a thin endpoint that only checks a token and produces to Kafka.

The hub runs as in production: PostgreSQL, the real broker, the API under uvicorn with
several worker processes and the consumers process; recipients read their feeds while
senders submit a realistic mix of the four exchanges (tests/load.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from schemas.envelope import Envelope
from services.config import ROOT, Settings
from services.db import utcnow
from services.exchanges.registry import topics
from services.messaging.outbox import make_producer
from services.messaging.topics import ensure_topics
from services.oversight.service import percentile
from services.runner import HubProcesses, free_port, wait_http
from tests.conftest import example_notice
from tests.load import SENDERS, Load, LoadResult

RESULTS = ROOT / "bench" / "results"
RECIPIENTS = ("miviludes", "dgs", "cnop", "plateforme-alpha", "plateforme-beta")
TICKS = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    """The oversight figures' nearest-rank percentile, q in percent; NaN for no values."""
    value = percentile(values, q / 100)
    return float("nan") if value is None else value


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return float("nan")


# --- baselines --------------------------------------------------------------------------

def raw_producer(settings: Settings, count: int) -> dict:
    """The ceiling: kafka-python producing hub-sized envelopes, acks=all, idempotent, to a
    topic of its own (the hub's consumers must not see them)."""
    topic = f"raw{uuid.uuid4().hex[:6]}.exchange.content-notices"
    ensure_topics(settings, [topic])
    producer = make_producer(settings, client_id="bench-raw")
    payloads = [Envelope(id=str(uuid.uuid4()), type="fr.gouv.vigie.content-notices.submitted",
                         source="/v1/content-notices", subject=str(uuid.uuid4()),
                         senderorg="unadfi", recipientorg="plateforme-alpha",
                         correlationid=str(uuid.uuid4()), time=utcnow(),
                         data=example_notice()).to_json() for _ in range(count)]
    cpu0, started = time.process_time(), time.perf_counter()
    futures = [producer.send(topic, key=p[:36], value=p) for p in payloads]
    producer.flush(timeout=120)
    failed = sum(1 for f in futures if f.failed())
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    producer.close()
    return {"messages": count, "failed": failed, "seconds": round(seconds, 2),
            "per_second": round(count / seconds), "envelope_bytes": len(payloads[0]),
            "cpu_seconds_per_1000": round(cpu / count * 1000, 3)}


# --- load with readers ------------------------------------------------------------------

async def read_feeds(base_url: str, tokens: dict[str, str], stop) -> Counter:
    """Recipients read their feeds as they would: a cursor each, a page every half second."""
    counts: Counter = Counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as http:
        cursors = dict.fromkeys(tokens, "0")
        while not stop():
            for org, token in tokens.items():
                resp = await http.get("/v1/feed", params={"after": cursors[org], "limit": 200},
                                      headers={"Authorization": f"Bearer {token}"})
                if resp.status_code == 200:
                    page = resp.json()
                    counts[org] += len(page["items"])
                    cursors[org] = page["next"] or cursors[org]
                counts[f"status {resp.status_code}"] += 1
            await asyncio.sleep(0.5)
    return counts


def run_load(url: str, tokens: dict[str, str], seconds: float, senders: int,
             rate: float | None = None, readers: dict[str, str] | None = None,
             during=None) -> tuple[LoadResult, Counter]:
    load = Load(url, tokens, senders=senders, rate=rate, give_up_after=30)

    async def main():
        deadline = time.monotonic() + seconds
        stop = lambda: time.monotonic() > deadline  # noqa: E731
        jobs = [load.run(stop)]
        if readers:
            jobs.append(read_feeds(url, readers, stop))
        if during:
            jobs.append(asyncio.to_thread(during))
        out = await asyncio.gather(*jobs)
        return out[1] if readers else Counter()

    cpu0 = time.process_time()
    reads = asyncio.run(main())
    load.result.generator_cpu = time.process_time() - cpu0
    return load.result, reads


def summary(result: LoadResult) -> dict:
    latencies = [a.latency * 1000 for a in result.accepted]
    return {"accepted": len(result.accepted), "seconds": round(result.seconds, 2),
            "accepted_per_second": round(len(result.accepted) / result.seconds, 1),
            "api_ms": {"p50": round(pct(latencies, 50), 1), "p95": round(pct(latencies, 95), 1),
                       "p99": round(pct(latencies, 99), 1)},
            "errors": dict(result.failed), "retried": {str(k): v for k, v in
                                                       result.retried.items()},
            # The load generator shares the 2 cores: its share of a core during the phase.
            "load_generator_core_share": round(result.generator_cpu / result.seconds, 2)}


def end_to_end(engine, ids: list[str], wait: float = 60) -> dict:
    """Accepted → visible in the recipient's feed, from the hub's own timestamps."""
    deadline = time.monotonic() + wait
    while True:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT created_at, delivered_at FROM items WHERE id = ANY(:ids)"),
                {"ids": ids}).all()
        pending = sum(1 for r in rows if r.delivered_at is None)
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    delays = [(r.delivered_at - r.created_at).total_seconds() * 1000 for r in rows
              if r.delivered_at is not None]
    return {"delivered": len(delays), "undelivered": pending,
            "ms": {"p50": round(pct(delays, 50), 1), "p95": round(pct(delays, 95), 1),
                   "p99": round(pct(delays, 99), 1), "max": round(max(delays, default=0), 1)}}


def drain(engine, timeout: float = 180) -> float:
    """Wait until every item is in its recipient's feed and the outbox is empty (feed
    topics included), so that a phase does not pay for the backlog of the one before;
    returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with engine.connect() as conn:
            if not conn.execute(text(
                    "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL)"
                    " + (SELECT count(*) FROM items WHERE delivered_at IS NULL)")).scalar():
                break
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


class ProcessMeter:
    """CPU seconds used by the hub's processes between start() and stop()."""

    def __init__(self, hub: HubProcesses):
        self.hub = hub

    def start(self) -> None:
        self.pids = self.hub.processes()
        self.before = {n: cpu_seconds(p) for n, p in self.pids.items()}

    def stop(self, messages: int) -> dict:
        used = {n: cpu_seconds(p) - self.before[n] for n, p in self.pids.items()}
        total = sum(used.values())
        return {"cpu_seconds": {n: round(v, 2) for n, v in used.items()},
                "cpu_seconds_per_1000": round(total / max(messages, 1) * 1000, 3),
                "peak_rss_mib": {n: round(peak_rss_mib(p), 1) for n, p in self.pids.items()}}


# --- the run ----------------------------------------------------------------------------

def new_database(admin_url: str) -> str:
    name = f"vigie_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": mem,
            "python": platform.python_version(), "kernel": platform.release()}


def start_thin(env: dict, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "bench.thin:create_app",
                             "--port", str(port), "--workers", str(workers),
                             "--log-level", "warning", "--no-access-log"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.post(f"{url}/v1/x", timeout=2)
            return proc, url
        except httpx.HTTPError:
            assert time.monotonic() < deadline and proc.poll() is None, "thin endpoint down"
            time.sleep(0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--delivery-threads", type=int, default=1,
                        help="consumers per delivery group in each delivery process "
                             "(measured: two in one process contend, scale by processes)")
    args = parser.parse_args()
    admin_url = os.environ["VIGIE_SERVICES_POSTGRES_URL"]
    kafka_port = int(os.environ.get("VIGIE_SERVICES_KAFKA_PORT", "29092"))
    db_url = new_database(admin_url)
    state = Path(tempfile.mkdtemp(prefix="vigie-bench-"))
    hub = HubProcesses(state, db_url, kafka_port, workers=args.workers,
                       delivery_threads=args.delivery_threads,
                       extra_env={"VIGIE_RATE_LIMIT_PER_MINUTE": "100000000",
                                  "VIGIE_RATE_LIMIT_BURST": "1000000"})
    report: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "machine": machine(), "senders": args.senders, "api_workers": args.workers,
                    "delivery_threads": args.delivery_threads,
                    "seconds": args.seconds}
    engine = create_engine(db_url)
    thin = None
    try:
        print("setting up the hub (database, topics, demo clients)...", flush=True)
        hub.setup()
        settings = Settings.from_env({**hub.env})
        print("baseline 1: raw kafka-python producer", flush=True)
        report["raw_producer"] = raw_producer(settings, 20000)

        hub.start_api()
        tokens = {s: hub.token(s) for s in SENDERS}
        readers = {r: hub.token(r) for r in RECIPIENTS}

        print("baseline 2: thin endpoint (token check + produce)", flush=True)
        thin_env = {**hub.env, "VIGIE_TOPIC_PREFIX": f"thin{uuid.uuid4().hex[:6]}."}
        thin_settings = Settings.from_env(thin_env)
        ensure_topics(thin_settings, topics(thin_settings))
        thin, thin_url = start_thin(thin_env, args.workers)
        run_load(thin_url, tokens, 3, args.senders)  # warm-up
        result, _ = run_load(thin_url, tokens, args.seconds, args.senders)
        report["thin_endpoint"] = summary(result)
        os.killpg(thin.pid, 15)
        thin.wait(timeout=30)
        thin = None

        hub.start_consumers(split=True)  # as the chart deploys them
        wait_http(f"{hub.url}/readyz")
        run_load(hub.url, tokens, 3, args.senders)  # warm-up
        drain(engine)
        meter = ProcessMeter(hub)
        print(f"hub: {args.senders} senders for {args.seconds:.0f} s, as fast as answered",
              flush=True)
        meter.start()
        result, reads = run_load(hub.url, tokens, args.seconds, args.senders, readers=readers)
        # Delivered first: the CPU per message includes the consumers' share.
        e2e = end_to_end(engine, [a.item_id for a in result.accepted], wait=180)
        report["hub_max"] = {**summary(result), **meter.stop(len(result.accepted)),
                             "end_to_end": e2e, "feed_reads": dict(reads)}
        report["hub_max"]["drain_seconds"] = drain(engine)
        half = report["hub_max"]["accepted_per_second"] / 2
        print(f"hub: half the maximum rate ({half:.0f}/s)", flush=True)
        meter.start()
        result, reads = run_load(hub.url, tokens, args.seconds, args.senders, rate=half,
                                 readers=readers)
        e2e = end_to_end(engine, [a.item_id for a in result.accepted], wait=180)
        report["hub_half"] = {**summary(result), **meter.stop(len(result.accepted)),
                              "end_to_end": e2e}
        report["hub_half"]["drain_seconds"] = drain(engine)
        print("scale-out: another delivery process joins, then leaves", flush=True)

        def join_then_leave():
            time.sleep(args.seconds / 3)
            hub.start_role("delivery-joining", "delivery:standard")
            time.sleep(args.seconds / 3)
            proc = hub.extra.pop("delivery-joining")
            os.killpg(proc.pid, 15)
            proc.wait(timeout=60)

        result, _ = run_load(hub.url, tokens, args.seconds, args.senders, rate=half,
                             during=join_then_leave)
        ids = [a.item_id for a in result.accepted]
        e2e = end_to_end(engine, ids)
        with engine.connect() as conn:
            copies = conn.execute(text(
                "SELECT item_id, count(*) FROM feed_items WHERE item_id = ANY(:ids) "
                "AND event_type LIKE '%.submitted' GROUP BY item_id"), {"ids": ids}).all()
            seconds_with_deliveries = conn.execute(text(
                "SELECT count(DISTINCT date_trunc('second', delivered_at)) FROM items "
                "WHERE id = ANY(:ids)"), {"ids": ids}).scalar()
        report["scale_out"] = {**summary(result), "end_to_end": e2e,
                               "delivered_once": sum(1 for c in copies if c[1] == 1),
                               "duplicates": sum(c[1] - 1 for c in copies),
                               "seconds_with_deliveries": seconds_with_deliveries}
    finally:
        if thin is not None:
            os.killpg(thin.pid, 9)
        hub.stop()
        engine.dispose()
        drop_database(admin_url, db_url)

    report["ratios"] = {
        "hub_vs_thin_throughput": round(report["hub_max"]["accepted_per_second"]
                                        / report["thin_endpoint"]["accepted_per_second"], 3),
        "hub_vs_raw_producer": round(report["hub_max"]["accepted_per_second"]
                                     / report["raw_producer"]["per_second"], 4),
        "thin_vs_raw_producer": round(report["thin_endpoint"]["accepted_per_second"]
                                      / report["raw_producer"]["per_second"], 4)}
    report["targets"] = {
        "1000_per_second": report["hub_max"]["accepted_per_second"] >= 1000,
        "api_p99_100ms_at_half_rate": report["hub_half"]["api_ms"]["p99"] <= 100,
        "e2e_p99_1s_at_half_rate": report["hub_half"]["end_to_end"]["ms"]["p99"] <= 1000,
        "half_of_thin": report["ratios"]["hub_vs_thin_throughput"] >= 0.5}
    write(report)
    return 0


def table(r: dict) -> str:
    m, h, half, thin, raw = (r["machine"], r["hub_max"], r["hub_half"], r["thin_endpoint"],
                             r["raw_producer"])
    rows = [
        ("raw kafka-python producer (acks=all)", f"{raw['per_second']:,}/s", "—", "—",
         f"{raw['cpu_seconds_per_1000']}"),
        ("thin endpoint (token + produce)", f"{thin['accepted_per_second']:,}/s",
         f"{thin['api_ms']['p50']} / {thin['api_ms']['p99']}", "—", "—"),
        ("hub, as fast as answered", f"{h['accepted_per_second']:,}/s",
         f"{h['api_ms']['p50']} / {h['api_ms']['p99']}",
         f"{h['end_to_end']['ms']['p50']} / {h['end_to_end']['ms']['p99']}",
         f"{h['cpu_seconds_per_1000']}"),
        ("hub, half that rate", f"{half['accepted_per_second']:,}/s",
         f"{half['api_ms']['p50']} / {half['api_ms']['p99']}",
         f"{half['end_to_end']['ms']['p50']} / {half['end_to_end']['ms']['p99']}",
         f"{half['cpu_seconds_per_1000']}"),
    ]
    lines = [f"Measured {r['date']} on {m['cpus']} cores ({m['cpu']}), {m['memory_gib']} GiB, "
             f"Python {m['python']}; {r['senders']} senders, {r['api_workers']} API workers, "
             f"{r['delivery_threads']} consumers per delivery group, "
             f"{r['seconds']:.0f} s per phase; PostgreSQL, Kafka, the hub and the load "
             "generator on the same machine.", "",
             "| | submissions | API ms p50 / p99 | end-to-end ms p50 / p99 | CPU s / 1,000 |",
             "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    peak = h["peak_rss_mib"]
    s = r["scale_out"]
    lines += ["", f"Ratios: hub / thin endpoint **{r['ratios']['hub_vs_thin_throughput']}**, "
              f"hub / raw producer {r['ratios']['hub_vs_raw_producer']}, thin / raw producer "
              f"{r['ratios']['thin_vs_raw_producer']}.",
              "Peak RSS (MiB): " + ", ".join(f"{k} {v}" for k, v in peak.items()) + ".",
              f"Errors: hub {h['errors'] or 'none'}, half {half['errors'] or 'none'}, thin "
              f"{thin['errors'] or 'none'}.",
              f"The load generator used {h['load_generator_core_share']} of a core at the "
              f"maximum, {half['load_generator_core_share']} at half rate, "
              f"{thin['load_generator_core_share']} against the thin endpoint.",
              f"Scale-out (another standard-lane delivery process joins then leaves, at half "
              f"rate): "
              f"{s['accepted']} accepted, {s['delivered_once']} delivered once, "
              f"{s['duplicates']} duplicates, {s['end_to_end']['undelivered']} undelivered, "
              f"end-to-end p99 {s['end_to_end']['ms']['p99']} ms, max "
              f"{s['end_to_end']['ms']['max']} ms.",
              "Targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}"
                                      for k, v in r["targets"].items()) + "."]
    return "\n".join(lines) + "\n"


def write(report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = report["date"].replace(":", "").replace("+0000", "Z")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    md = table(report)
    (RESULTS / "latest.md").write_text(md)
    print()
    print(md)


if __name__ == "__main__":
    sys.exit(main())
