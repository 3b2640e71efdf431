"""vegeta (github.com/tsenart/vegeta, built from the Go module proxy by tools/vegeta.sh)
as the load generator: fixed rate or as fast as answered, many
connections, its own CPU measured like the hub's."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

VEGETA = Path(os.environ.get("VIGIE_VEGETA",
                             Path.home() / ".cache" / "vigie" / "bin" / "vegeta"))


@dataclass
class Outcome:
    """One request as vegeta saw it."""

    code: int
    sent_at: datetime
    latency_ms: float
    body: bytes
    error: str


@dataclass
class Attack:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def accepted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.code == 201]

    def codes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            key = str(o.code) if o.code else (o.error[:60] or "no answer")
            out[key] = out.get(key, 0) + 1
        return out


_TIME = re.compile(r"^(?P<base>[^.]+)(?:\.(?P<frac>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)$")


def parse_time(text: str) -> datetime:
    """RFC 3339 with nanoseconds (Go's), to an aware datetime (microseconds)."""
    m = _TIME.match(text)
    if m is None:
        raise ValueError(f"not a timestamp: {text!r}")
    frac = (m["frac"] or "0")[:6].ljust(6, "0")
    zone = "+00:00" if m["zone"] == "Z" else m["zone"]
    return datetime.fromisoformat(f"{m['base']}.{frac}{zone}")


def attack(targets: Path, out_dir: Path, name: str, seconds: float, rate: float | None,
           workers: int = 64, connections: int = 10000) -> Attack:
    """Run vegeta for `seconds`: at `rate` per second, or (None) as fast as answered with
    `workers` concurrent requests. `connections`: idle keep-alive connections kept (vegeta's
    own default). At a fixed rate vegeta adds a worker, and a connection, whenever all are
    busy; with 256 kept, once rate × latency passed 256 it closed a connection after each
    answer and opened a new one for the next request — at twice the maximum, thousands of
    new connections a second, which one run in five turned into a storm of dropped SYNs
    (642 accepted/s, p99 27 s) that no hub-side limit sees. Clients with a connection pool,
    and the ingress in front of the API pods, keep their connections."""
    results = out_dir / f"{name}.bin"
    args = [str(VEGETA), "attack", "-format=json", f"-targets={targets}",
            f"-duration={seconds}s", "-timeout=30s", f"-connections={connections}",
            f"-output={results}", f"-name={name}"]
    if rate is None:
        args += ["-rate=0", f"-max-workers={workers}", f"-workers={workers}"]
    else:
        args += [f"-rate={int(rate)}/1s", f"-workers={workers}"]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"vegeta attack failed: {proc.stderr.read().decode()[-2000:]}")
    encoded = subprocess.run([str(VEGETA), "encode", "--to=json", str(results)],
                             capture_output=True, check=True).stdout
    outcomes = []
    for line in encoded.splitlines():
        r = json.loads(line)
        outcomes.append(Outcome(
            code=r["code"], sent_at=parse_time(r["timestamp"]), latency_ms=r["latency"] / 1e6,
            body=base64.b64decode(r["body"] or ""),
            error=r.get("error") or ""))
    results.unlink()
    run = Attack(outcomes, cpu_seconds=usage.ru_utime + usage.ru_stime)
    if outcomes:
        first = min(o.sent_at for o in outcomes)
        last = max(o.sent_at.timestamp() + o.latency_ms / 1000 for o in outcomes)
        run.seconds = max(last - first.timestamp(), 1e-3)
    return run
