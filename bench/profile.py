"""`python -m bench.profile` (under tools/with-services.sh, as `make bench` runs): one phase
of the benchmark's load against the hub on PostgreSQL, with py-spy sampling the API and
the relay when it is installed (`pip install py-spy`; not a dependency of the hub), then
the CPU each process used and the write path's groups — what to look at before changing
the hot path.

    tools/with-services.sh 29092 .vigie/bench .venv/bin/python -m bench.profile \\
        --workers 1 --connections 128 [--rate 400] [--py-spy .venv/bin/py-spy]

Samples are written as py-spy's raw (folded) stacks to --out, one file per process."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine

from services.runner import LOCAL_LOAD_LIMITS, HubProcesses, wait_http

from . import targets, vegeta
from .run import (
    ProcessMeter,
    drop_database,
    new_database,
    phase_targets,
    postgres_pids,
    summary,
    warm_up,
)

GROUP_METRICS = ("vigie_write_group_size_sum", "vigie_write_group_size_count",
                 "vigie_write_commit_seconds_sum", "vigie_write_commit_seconds_count")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--rate", type=float, default=0, help="per second (0: as fast as "
                        "answered)")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "")
    parser.add_argument("--wall", action="store_true", help="sample wall time (idle "
                        "threads too) instead of the threads holding the GIL")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL "
                        "is printed) for a look at what the load wrote")
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="profile-")))
    args = parser.parse_args()
    admin_url = os.environ["VIGIE_SERVICES_POSTGRES_URL"]
    kafka_port = int(os.environ.get("VIGIE_SERVICES_KAFKA_PORT", "29092"))
    work = Path(tempfile.mkdtemp(prefix="vigie-profile-"))
    db_url = new_database(admin_url)
    hub = HubProcesses(work / "pg", db_url, kafka_port, workers=args.workers,
                       extra_env=dict(LOCAL_LOAD_LIMITS))
    engine = create_engine(db_url)
    try:
        hub.start()
        wait_http(f"{hub.url}/readyz")
        tokens = {s: hub.token(s) for s in targets.SENDERS}
        warm_up(hub, engine, work, tokens, args.connections)
        file = phase_targets(work, hub.url, tokens, "load",
                             (args.rate or 1500) * args.seconds * 1.1)
        pids = hub.processes()
        broker = subprocess.run(["pgrep", "-f", "kafka.Kafka"], capture_output=True,
                                text=True).stdout.split()
        meter = ProcessMeter(hub, int(broker[0]) if broker else None, bool(postgres_pids()))
        spies = []
        if args.py_spy:
            args.out.mkdir(parents=True, exist_ok=True)
            for name, pid in pids.items():
                # The API's workers and writer process, or the API itself when it runs alone.
                children = [n for n in pids if n.startswith("api-")]
                if name in ("consumers", "webhooks", *children) or (
                        name == "api" and not children):
                    spies.append(subprocess.Popen(
                        [args.py_spy, "record", "-r", "100", "-d", str(int(args.seconds)),
                         "-p", str(pid), "-f", "raw", "--nonblocking",
                         "-o", str(args.out / f"{name}.txt"),
                         *(["--idle"] if args.wall else ["--gil"])],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        meter.start()
        run = vegeta.attack(file, work, "load", args.seconds, rate=args.rate or None,
                            workers=args.connections)
        result = {**summary(run), **meter.stop(len(run.accepted))}
        for spy in spies:
            spy.wait(timeout=args.seconds + 30)
        metrics = httpx.get(f"{hub.url}/metrics", timeout=10).text
        result["write_path"] = {line.split()[0]: float(line.split()[1])
                                for line in metrics.splitlines()
                                if line.startswith(GROUP_METRICS)}
        if spies:
            result["py_spy_samples"] = str(args.out)
        print(json.dumps(result, indent=2))
    finally:
        hub.stop()
        engine.dispose()
        time.sleep(0.5)
        if args.keep:
            print(f"database kept: {db_url}")
        else:
            drop_database(admin_url, db_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
