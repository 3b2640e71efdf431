"""`make bench`: the hub's throughput and latency against two baselines measured in the
same run on the same machine — raw kafka-python producer throughput (the ceiling for
Python here) and a thin endpoint that only checks a token and produces to Kafka.

The hub runs as in production: PostgreSQL, the real broker, the API under uvicorn with
several worker processes and the relay in a process of its own; vegeta sends a
realistic mix of the four exchanges (bench/targets.py) at a fixed rate or as fast as
answered, each request with its own body and Idempotency-Key. The same phases run on
SQLite, the `make run` default. CPU is counted for the hub's processes, PostgreSQL, the
broker and the load generator alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import create_engine, text

from schemas.envelope import Envelope
from services.config import ROOT, Settings
from services.db import utcnow
from services.local_broker import LocalBroker
from services.messaging.kafka_client import client_config
from services.messaging.outbox import backlog, make_producer
from services.messaging.topics import ensure_topics, feed_topic
from services.oversight.service import percentile
from services.runner import LOCAL_LOAD_LIMITS, HubProcesses, free_port, wait_http

from . import targets, vegeta

RESULTS = ROOT / "bench" / "results"
TICKS = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    """The oversight figures' nearest-rank percentile, q in percent; NaN for no values."""
    value = percentile(values, q / 100)
    return float("nan") if value is None else round(value, 1)


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (empty once it is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return []


def cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS if fields else 0.0


def reaped_cpu_seconds(pid: int) -> float:
    """CPU of the process's children that have exited (and been waited for)."""
    fields = _stat(pid)
    return (int(fields[13]) + int(fields[14])) / TICKS if fields else 0.0


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
    topic = f"raw{uuid.uuid4().hex[:6]}.feed.plateforme-alpha"
    ensure_topics(settings, [topic])
    producer = make_producer(settings, client_id="bench-raw")
    notice = targets.examples()["content-notices"]
    payloads = [Envelope(id=str(uuid.uuid4()), type="fr.gouv.vigie.content-notices.submitted",
                         source="/v1/content-notices", subject=str(uuid.uuid4()),
                         senderorg="vigilance-alpha", recipientorg="plateforme-alpha",
                         correlationid=str(uuid.uuid4()), time=utcnow(),
                         data=notice).to_json() for _ in range(count)]
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


def postgres_pids() -> list[int]:
    done = subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True)
    return [int(p) for p in done.stdout.split()]


class ProcessMeter:
    """CPU seconds used between start() and stop() by the hub's processes, and apart by
    PostgreSQL (every backend) and the broker."""

    def __init__(self, hub: HubProcesses, broker_pid: int | None, postgres: bool):
        self.hub = hub
        self.broker_pid = broker_pid
        self.postgres = postgres

    def _others(self) -> dict[str, float]:
        out = {}
        if self.postgres:
            # Backends come and go: the live ones, plus what the postmaster has reaped.
            pids = postgres_pids()
            out["postgresql"] = sum(cpu_seconds(p) for p in pids) + sum(
                reaped_cpu_seconds(p) for p in pids)
        if self.broker_pid:
            out["kafka"] = cpu_seconds(self.broker_pid)
        return out

    def start(self) -> None:
        self.pids = self.hub.processes()
        self.before = {n: cpu_seconds(p) for n, p in self.pids.items()}
        self.others_before = self._others()

    def stop(self, messages: int) -> dict:
        used = {n: cpu_seconds(p) - self.before[n] for n, p in self.pids.items()}
        others = {n: v - self.others_before.get(n, 0.0) for n, v in self._others().items()}
        total = sum(used.values())
        per = max(messages, 1) / 1000
        return {"cpu_seconds": {n: round(v, 2) for n, v in used.items()},
                "cpu_seconds_per_1000": round(total / per, 3),
                "dependencies_cpu_seconds_per_1000": {n: round(v / per, 3)
                                                      for n, v in others.items()},
                "peak_rss_mib": {n: round(peak_rss_mib(p), 1) for n, p in self.pids.items()}}


# --- phases ---------------------------------------------------------------------------

def summary(run: vegeta.Attack) -> dict:
    accepted = run.accepted
    ids = {json.loads(o.body).get("id") for o in accepted}
    latencies = [o.latency_ms for o in accepted]
    return {"requests": len(run.outcomes), "accepted": len(accepted),
            # Each target is a new submission: a replayed answer would inflate the figures.
            "distinct_items": len(ids),
            "seconds": round(run.seconds, 2),
            "accepted_per_second": round(len(accepted) / run.seconds, 1),
            "api_ms": {"p50": pct(latencies, 50), "p95": pct(latencies, 95),
                       "p99": pct(latencies, 99), "max": round(max(latencies, default=0), 1)},
            "answers": run.codes(),
            "load_generator_core_share": round(run.cpu_seconds / run.seconds, 3)}


def item_ids(run: vegeta.Attack) -> dict[str, datetime]:
    """Accepted item id → when vegeta sent the request."""
    out = {}
    for o in run.accepted:
        out[json.loads(o.body)["id"]] = o.sent_at
    return out


def kafka_end_to_end(settings: Settings, sent: dict[str, datetime], wait: float = 120) -> dict:
    """Request sent → record on the recipient's own topic (the record's timestamp), for
    every accepted submission; the REST feed has them at the 201 (delivery is the commit)."""
    consumer = KafkaConsumer(**client_config(settings), group_id=None,
                             enable_auto_commit=False, client_id="bench-e2e")
    partitions = [TopicPartition(feed_topic(settings, org), 0) for org in targets.RECIPIENTS]
    delays: dict[str, float] = {}
    try:
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + wait
        while len(delays) < len(sent) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                for r in records:
                    event = json.loads(r.value)["event"]
                    at = sent.get(event["subject"])
                    if at is not None and event["type"].endswith(".submitted"):
                        delays[event["subject"]] = r.timestamp - at.timestamp() * 1000
    finally:
        consumer.close(autocommit=False)
    values = list(delays.values())
    return {"on_topic": len(values), "missing": len(sent) - len(values),
            "ms": {"p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99),
                   "max": round(max(values, default=0), 1)}}


def drain(engine, timeout: float = 180) -> float:
    """Until every feed entry is on its topic, so that a phase does not pay for the one
    before."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with engine.connect() as conn:
            if not backlog(conn):
                break
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


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
    """The thin baseline under uvicorn with as many workers as the hub."""
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


def phase_targets(work: Path, url: str, tokens: dict[str, str], name: str,
                  count: float) -> Path:
    """Targets of their own for each phase: every request a new submission (vegeta would
    send a file's targets again once through them)."""
    file = work / f"{name}-{uuid.uuid4().hex[:6]}.jsonl"
    targets.write(file, url, tokens, int(count) + 100)
    return file


def warm_up(hub: HubProcesses, engine, work: Path, tokens: dict[str, str],
            connections: int) -> None:
    """A few seconds of load, then until the relay has caught up."""
    vegeta.attack(phase_targets(work, hub.url, tokens, "warm-up", 1500), work, "warm-up", 3,
                  rate=None, workers=connections)
    drain(engine)


def measure_hub(hub: HubProcesses, settings: Settings, engine, work: Path, args,
                broker_pid: int | None, postgres: bool, overload: bool) -> dict:
    """As fast as answered, then half that rate, then (overload) the issue's rate for its
    latency target and twice the maximum."""
    tokens = {s: hub.token(s) for s in targets.SENDERS}

    def phase_file(name: str, count: float) -> Path:
        return phase_targets(work, hub.url, tokens, name, count)

    def at_rate(name: str, rate: float) -> dict:
        """A fixed rate, with the end-to-end latency into the recipients' topics."""
        file = phase_file(name, rate * args.seconds * 1.1)
        meter.start()
        run = vegeta.attack(file, work, name, args.seconds, rate=rate,
                            workers=args.connections)
        out = {**summary(run), **meter.stop(len(run.accepted))}
        e2e = kafka_end_to_end(settings, item_ids(run))
        out["end_to_end"] = {
            "rest_ms": out["api_ms"], "kafka": e2e, "ms": {
                "p50": max(out["api_ms"]["p50"], e2e["ms"]["p50"]),
                "p99": max(out["api_ms"]["p99"], e2e["ms"]["p99"])}}
        out["drain_seconds"] = drain(engine)
        return out

    warm_up(hub, engine, work, tokens, args.connections)
    out: dict = {}
    meter = ProcessMeter(hub, broker_pid, postgres)
    print(f"  as fast as answered ({args.connections} concurrent requests, "
          f"{args.seconds:.0f} s)", flush=True)
    file = phase_file("max", args.max_rate * args.seconds)
    meter.start()
    run = vegeta.attack(file, work, "max", args.seconds, rate=None, workers=args.connections)
    out["max"] = {**summary(run), **meter.stop(len(run.accepted))}
    out["max"]["end_to_end_kafka"] = kafka_end_to_end(settings, item_ids(run))
    out["max"]["drain_seconds"] = drain(engine)
    maximum = out["max"]["accepted_per_second"]
    half = max(1.0, maximum / 2)
    print(f"  half that rate ({half:.0f}/s)", flush=True)
    out["half"] = at_rate("half", half)
    if overload:
        # The issue states its latency target at 500/s (half its goal of 1,000/s); half
        # the measured maximum, above, is a harder test once the maximum passes 1,000/s.
        print(f"  the latency target's rate ({args.target_rate:.0f}/s)", flush=True)
        out["target"] = at_rate("target", args.target_rate)
        offered = 2 * maximum
        print(f"  overload: offered twice the maximum ({offered:.0f}/s)", flush=True)
        file = phase_file("overload", offered * args.seconds * 1.1)
        meter.start()
        run = vegeta.attack(file, work, "overload", args.seconds, rate=offered,
                            workers=args.connections)
        s = summary(run)
        out["overload"] = {**s, **meter.stop(len(run.accepted)), "offered_per_second": offered,
                           "refused_503": s["answers"].get("503", 0),
                           "accepted_p99_ms": s["api_ms"]["p99"],
                           "accepted_max_ms": s["api_ms"]["max"]}
        out["overload"]["drain_seconds"] = drain(engine)
    for file in work.glob("*.jsonl"):
        file.unlink()
    return out


def measure_max(hub: HubProcesses, settings: Settings, engine, work: Path, args,
                broker_pid: int | None) -> dict:
    """As fast as answered only (a comparison)."""
    tokens = {s: hub.token(s) for s in targets.SENDERS}
    warm_up(hub, engine, work, tokens, args.connections)
    meter = ProcessMeter(hub, broker_pid, True)
    file = phase_targets(work, hub.url, tokens, "max", args.max_rate * args.seconds)
    meter.start()
    run = vegeta.attack(file, work, "max", args.seconds, rate=None, workers=args.connections)
    out = {**summary(run), **meter.stop(len(run.accepted))}
    out["drain_seconds"] = drain(engine)
    file.unlink()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=128,
                        help="concurrent requests of the as-fast-as-answered phases")
    parser.add_argument("--workers", type=int, default=1,
                        help="API worker processes (the chart's default: one per pod)")
    parser.add_argument("--scale-workers", type=int, default=2,
                        help="then as fast as answered and half that rate with this many "
                             "API workers writing at once (0: skip)")
    parser.add_argument("--max-rate", type=float, default=1500,
                        help="submissions per second the targets of the maximum phase allow")
    parser.add_argument("--target-rate", type=float, default=500,
                        help="the rate of the API latency target (p99 ≤ 100 ms)")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--compare-writer-thread", action=argparse.BooleanOptionalAction,
                        default=True, help="then as fast as answered with the writer as a "
                        "thread of the API process, as before the writer process")
    args = parser.parse_args()
    admin_url = os.environ["VIGIE_SERVICES_POSTGRES_URL"]
    kafka_port = int(os.environ.get("VIGIE_SERVICES_KAFKA_PORT", "29092"))
    work = Path(tempfile.mkdtemp(prefix="vigie-bench-"))
    report: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "machine": machine(), "api_workers": args.workers,
                    "connections": args.connections, "seconds": args.seconds,
                    "load_generator": "vegeta " + subprocess.run(
                        [str(vegeta.VEGETA), "-version"], capture_output=True,
                        text=True).stdout.split("\n")[0].strip()}
    extra = dict(LOCAL_LOAD_LIMITS)
    db_url = new_database(admin_url)
    hub = HubProcesses(work / "pg", db_url, kafka_port, workers=args.workers,
                       extra_env=extra)
    engine = create_engine(db_url)
    thin = None
    try:
        print("setting up the hub on PostgreSQL (database, topics, demo clients)...", flush=True)
        hub.setup()
        settings = Settings.from_env({**hub.env})
        broker_pid = LocalBroker(settings).pid()
        print("baseline 1: raw kafka-python producer", flush=True)
        report["raw_producer"] = raw_producer(settings, 20000)

        hub.start_api()
        print("baseline 2: thin endpoint (token check + produce), as fast as answered",
              flush=True)
        thin_env = {**hub.env, "VIGIE_TOPIC_PREFIX": f"thin{uuid.uuid4().hex[:6]}."}
        thin_settings = Settings.from_env(thin_env)
        ensure_topics(thin_settings, [feed_topic(thin_settings, r) for r in targets.RECIPIENTS])
        thin, thin_url = start_thin(thin_env, args.workers)
        tokens = {s: hub.token(s) for s in targets.SENDERS}
        file = work / "thin.jsonl"
        targets.write(file, thin_url, tokens, int(2 * args.max_rate * args.seconds))
        vegeta.attack(file, work, "thin-warm-up", 3, rate=None, workers=args.connections)
        report["thin_endpoint"] = summary(vegeta.attack(file, work, "thin", args.seconds,
                                                        rate=None, workers=args.connections))
        os.killpg(thin.pid, 15)
        thin.wait(timeout=30)
        thin = None

        hub.start_consumers(split=True)  # as the chart deploys them
        wait_http(f"{hub.url}/readyz")
        print("hub on PostgreSQL", flush=True)
        pg = measure_hub(hub, settings, engine, work, args, broker_pid, True, overload=True)
        report["hub_max"], report["hub_half"] = pg["max"], pg["half"]
        report["hub_overload"] = pg["overload"]
        report["hub_at_target_rate"] = {"rate": args.target_rate, **pg["target"]}
        if args.scale_workers > args.workers:
            # More writers at once (more workers, or more pods): what they share is the
            # heads each group locks until its commit.
            print(f"hub on PostgreSQL, {args.scale_workers} API workers", flush=True)
            os.killpg(hub.api.pid, 15)
            hub.api.wait(timeout=30)
            hub.workers = args.scale_workers
            hub.start_api()
            wait_http(f"{hub.url}/readyz")
            scaled = measure_hub(hub, settings, engine, work, args, broker_pid, True,
                                 overload=False)
            report["hub_scaled"] = {"api_workers": args.scale_workers, **scaled}
        if args.compare_writer_thread:
            # The write path as it was: a writer thread inside the one API process, sharing
            # its interpreter lock with the event loop (services/writes/remote.py says why
            # it moved out).
            print("hub on PostgreSQL, the writer as a thread of the API process", flush=True)
            os.killpg(hub.api.pid, 15)
            hub.api.wait(timeout=30)
            hub.workers = args.workers
            hub.env["VIGIE_WRITER_PROCESS"] = "0"
            hub.start_api()
            wait_http(f"{hub.url}/readyz")
            report["hub_writer_thread"] = measure_max(hub, settings, engine, work, args,
                                                      broker_pid)
    finally:
        if thin is not None:
            os.killpg(thin.pid, 9)
        hub.stop()
        engine.dispose()
        drop_database(admin_url, db_url)

    if not args.skip_sqlite:
        print("hub on SQLite (the make run default: one API process)", flush=True)
        state = work / "sqlite"
        lite_url = f"sqlite:///{state / 'vigie.db'}"
        lite = HubProcesses(state, lite_url, kafka_port, workers=1, extra_env=extra)
        lite_engine = create_engine(lite_url)
        try:
            lite.start()
            lite_settings = Settings.from_env({**lite.env})
            report["sqlite"] = measure_hub(lite, lite_settings, lite_engine, work, args,
                                           LocalBroker(lite_settings).pid(), False,
                                           overload=False)
        finally:
            lite.stop()
            lite_engine.dispose()

    report["ratios"] = {
        "hub_vs_thin_throughput": round(report["hub_max"]["accepted_per_second"]
                                        / report["thin_endpoint"]["accepted_per_second"], 3),
        "hub_vs_raw_producer": round(report["hub_max"]["accepted_per_second"]
                                     / report["raw_producer"]["per_second"], 4),
        "thin_vs_raw_producer": round(report["thin_endpoint"]["accepted_per_second"]
                                      / report["raw_producer"]["per_second"], 4)}
    o = report["hub_overload"]
    report["targets"] = {
        "1000_per_second": report["hub_max"]["accepted_per_second"] >= 1000,
        "api_p99_100ms_at_target_rate": report["hub_at_target_rate"]["api_ms"]["p99"] <= 100
        and report["hub_at_target_rate"]["accepted_per_second"] >= 0.98 * args.target_rate,
        "e2e_p99_1s_at_half_rate": report["hub_half"]["end_to_end"]["ms"]["p99"] <= 1000
        and report["hub_half"]["end_to_end"]["kafka"]["missing"] == 0,
        "half_of_thin": report["ratios"]["hub_vs_thin_throughput"] >= 0.5,
        "hub_cpu_1s_per_1000": report["hub_max"]["cpu_seconds_per_1000"] <= 1.0,
        # "No accepted request waits more than 1 s": the slowest, not the 99th percentile.
        "overload_answered_not_queued": o["accepted_max_ms"] <= 1000
        and o["accepted_per_second"] >= 0.8 * report["hub_max"]["accepted_per_second"]}
    write(report)
    return 0


def table(r: dict) -> str:
    m, h, half, thin, raw, o = (r["machine"], r["hub_max"], r["hub_half"], r["thin_endpoint"],
                                r["raw_producer"], r["hub_overload"])
    at = r["hub_at_target_rate"]

    def cpu(p: dict) -> str:
        deps = ", ".join(f"{k} {v}" for k, v in p["dependencies_cpu_seconds_per_1000"].items())
        return f"{p['cpu_seconds_per_1000']}" + (f" (+ {deps})" if deps else "")

    rows = [
        ("raw kafka-python producer (acks=all)", f"{raw['per_second']:,}/s", "—", "—",
         f"{raw['cpu_seconds_per_1000']}"),
        ("thin endpoint (token + produce)", f"{thin['accepted_per_second']:,}/s",
         f"{thin['api_ms']['p50']} / {thin['api_ms']['p99']}", "—", "—"),
        ("hub, as fast as answered", f"{h['accepted_per_second']:,}/s",
         f"{h['api_ms']['p50']} / {h['api_ms']['p99']}",
         f"— / {h['end_to_end_kafka']['ms']['p99']}", cpu(h)),
        ("hub, half that rate", f"{half['accepted_per_second']:,}/s",
         f"{half['api_ms']['p50']} / {half['api_ms']['p99']}",
         f"{half['end_to_end']['kafka']['ms']['p50']} / "
         f"{half['end_to_end']['kafka']['ms']['p99']}", cpu(half)),
        (f"hub, {at['rate']:,.0f}/s (the latency target's rate)",
         f"{at['accepted_per_second']:,}/s", f"{at['api_ms']['p50']} / {at['api_ms']['p99']}",
         f"{at['end_to_end']['kafka']['ms']['p50']} / {at['end_to_end']['kafka']['ms']['p99']}",
         cpu(at)),
        (f"hub, offered {o['offered_per_second']:,.0f}/s (2× max)",
         f"{o['accepted_per_second']:,}/s", f"{o['api_ms']['p50']} / {o['api_ms']['p99']}",
         "—", cpu(o)),
    ]
    if "hub_scaled" in r:
        n = r["hub_scaled"]["api_workers"]
        for phase, label in (("max", f"hub, {n} API workers, as fast as answered"),
                             ("half", f"hub, {n} API workers, half that rate")):
            p = r["hub_scaled"][phase]
            e2e = p.get("end_to_end", {}).get("kafka") or p.get("end_to_end_kafka")
            rows.append((label, f"{p['accepted_per_second']:,}/s",
                         f"{p['api_ms']['p50']} / {p['api_ms']['p99']}",
                         f"{e2e['ms']['p50']} / {e2e['ms']['p99']}", cpu(p)))
    if "hub_writer_thread" in r:
        p = r["hub_writer_thread"]
        rows.append(("hub, the writer a thread of the API process (before), as fast as "
                     "answered", f"{p['accepted_per_second']:,}/s",
                     f"{p['api_ms']['p50']} / {p['api_ms']['p99']}", "—", cpu(p)))
    if "sqlite" in r:
        for phase, label in (("max", "SQLite (make run), as fast as answered"),
                             ("half", "SQLite (make run), half that rate")):
            p = r["sqlite"][phase]
            e2e = p.get("end_to_end", {}).get("kafka") or p.get("end_to_end_kafka")
            rows.append((label, f"{p['accepted_per_second']:,}/s",
                         f"{p['api_ms']['p50']} / {p['api_ms']['p99']}",
                         f"{e2e['ms']['p50']} / {e2e['ms']['p99']}", cpu(p)))
    lines = [f"Measured {r['date']} on {m['cpus']} cores ({m['cpu']}), {m['memory_gib']} GiB, "
             f"Python {m['python']}; {r['load_generator']}, {r['connections']} concurrent "
             f"requests when as fast as answered, {r['api_workers']} API worker(s) and the "
             "writer process on PostgreSQL (1 worker on SQLite), the relay apart, "
             f"{r['seconds']:.0f} s per phase; PostgreSQL, "
             "Kafka, the hub and the load generator on the same machine.", "",
             "| | accepted | API ms p50 / p99 | to the recipient's Kafka topic, ms p50 / p99 "
             "| hub CPU s / 1,000 (+ dependencies) |",
             "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    lines += ["", "The REST feed has each message at the 201 (delivery is the commit): its "
              "end-to-end latency is the API latency.",
              f"Ratios: hub / thin endpoint **{r['ratios']['hub_vs_thin_throughput']}**, "
              f"hub / raw producer {r['ratios']['hub_vs_raw_producer']}, thin / raw producer "
              f"{r['ratios']['thin_vs_raw_producer']}.",
              f"Overload: offered {o['offered_per_second']:,.0f}/s, accepted "
              f"{o['accepted_per_second']:,}/s "
              f"({o['accepted_per_second'] / h['accepted_per_second']:.0%} of the maximum), "
              f"refused at once with 503 {o['refused_503']:,}, accepted p99 "
              f"{o['accepted_p99_ms']} ms and slowest {o['accepted_max_ms']} ms; the load "
              f"generator used {o['load_generator_core_share']} of a core (at the maximum "
              f"{h['load_generator_core_share']}); answers {o['answers']}.",
              "Peak RSS (MiB): " + ", ".join(f"{k} {v}" for k, v in h["peak_rss_mib"].items())
              + ".",
              f"Answers: max {h['answers']}, half {half['answers']}, thin {thin['answers']}.",
              f"The load generator used {h['load_generator_core_share']} of a core at the "
              f"maximum, {half['load_generator_core_share']} at half rate, "
              f"{thin['load_generator_core_share']} against the thin endpoint.",
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
