"""The hub as production runs it: the API under uvicorn and the consumers process (the
outbox relay and the webhook dispatcher) as separate operating-system processes, set up
with the `vigie` command.

The one way the hub's processes are wired for the fault suite (which kills them), the
Prometheus test (which scrapes them) and the benchmark (which loads them)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

VIGIE = [sys.executable, "-m", "services.cli"]


# Load from one local address (a benchmark, a fault suite): the rate limits per client,
# per address and per login would be what is measured.
LOCAL_LOAD_LIMITS = {f"VIGIE_{kind}RATE_LIMIT_{what}": value
                     for kind in ("", "ADDRESS_", "TOKEN_")
                     for what, value in (("PER_MINUTE", "100000000"), ("BURST", "1000000"))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    """Until `url` answers 200 (the process, if given, must stay alive)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} never answered 200")
        time.sleep(0.2)


class HubProcesses:
    """An API process and a consumers process sharing one database and broker."""

    def __init__(self, state_dir: Path, database_url: str, kafka_port: int,
                 workers: int = 1, extra_env: dict[str, str] | None = None):
        self.port = free_port()
        self.metrics_port = free_port()
        self.workers = workers
        self.state_dir = state_dir
        self.log_dir = state_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ,
                    "VIGIE_STATE_DIR": str(state_dir),
                    "VIGIE_DATABASE_URL": database_url,
                    "VIGIE_KAFKA_PORT": str(kafka_port),
                    "VIGIE_TOPIC_PREFIX": f"p{uuid.uuid4().hex[:8]}.",
                    "VIGIE_TOPIC_PARTITIONS": "3",
                    "VIGIE_PUBLIC_URL": self.url,
                    "VIGIE_KAFKA_JWKS_FILE": "",
                    **(extra_env or {})}
        self.api: subprocess.Popen | None = None
        self.consumers: subprocess.Popen | None = None
        # Extra consumers processes, by name (scale-out: `vigie consumers --roles ...`).
        self.extra: dict[str, subprocess.Popen] = {}
        self.creds: dict[str, dict] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def vigie(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run([*VIGIE, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"vigie {' '.join(args)}: {done.stderr[-2000:]}")
        return done.stdout

    def setup(self) -> None:
        self.vigie("setup", "--demo")
        clients = json.loads((self.state_dir / "dev-clients.json").read_text())
        self.creds = {c["org_id"]: c for c in clients}

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("ab")
        return subprocess.Popen([*VIGIE, *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def start_api(self) -> None:
        self.api = self._spawn("api", "serve", "--port", str(self.port),
                               "--workers", str(self.workers))
        wait_http(f"{self.url}/healthz", proc=self.api)

    def start_consumers(self, split: bool = False) -> None:
        """One consumers process with every role, or (split) as the chart deploys them:
        the relay and the webhook dispatcher each in a process of its own."""
        roles = (["relay", "witness", "erasure"] if split
                 else ["relay", "webhooks", "witness", "erasure", "notices"])
        self.consumers = self._spawn("consumers", "consumers", "--roles", ",".join(roles),
                                     "--metrics-port", str(self.metrics_port))
        wait_http(self.metrics_url, proc=self.consumers)
        if split:
            self.start_role("webhooks", "webhooks,notices")

    def start_role(self, name: str, roles: str) -> subprocess.Popen:
        """Another consumers process running only `roles` (its metrics server off)."""
        proc = self._spawn(name, "consumers", "--roles", roles, "--metrics-port", "0")
        self.extra[name] = proc
        return proc

    def processes(self) -> dict[str, int]:
        """The hub's process ids: the API (its supervisor, workers and writer process) and
        the consumers."""
        pids = {}
        if self.api is not None:
            pids["api"] = self.api.pid
            children = Path(f"/proc/{self.api.pid}/task/{self.api.pid}/children")
            workers = 0
            for child in children.read_text().split() if children.exists() else []:
                comm = Path(f"/proc/{child}/comm")
                name = comm.read_text().strip() if comm.exists() else ""
                if name == "vigie-writer":
                    pids["api-writer"] = int(child)
                elif name == "vigie-api":
                    workers += 1
                    pids[f"api-worker-{workers}"] = int(child)
        if self.consumers is not None:
            pids["consumers"] = self.consumers.pid
        pids.update({name: p.pid for name, p in self.extra.items() if p.poll() is None})
        return pids

    def start(self) -> None:
        self.setup()
        self.start_api()
        self.start_consumers()
        wait_http(f"{self.url}/readyz")

    def kill_consumers(self) -> None:
        """kill -9: no shutdown, no offset commit, whatever it was doing."""
        assert self.consumers is not None
        os.killpg(self.consumers.pid, signal.SIGKILL)
        self.consumers.wait(timeout=30)

    def pause_consumers(self, paused: bool) -> None:
        assert self.consumers is not None
        os.killpg(self.consumers.pid, signal.SIGSTOP if paused else signal.SIGCONT)

    def token(self, org_id: str) -> str:
        c = self.creds[org_id]
        resp = httpx.post(f"{self.url}/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(c["client_id"], c["client_secret"]), timeout=10)
        resp.raise_for_status()
        return resp.json()["access_token"]

    def feed(self, org_id: str, token: str | None = None) -> list[dict]:
        """The organisation's whole REST feed, page by page."""
        headers = {"Authorization": f"Bearer {token or self.token(org_id)}"}
        items, cursor = [], "0"
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as http:
            while True:
                page = http.get("/v1/feed", params={"after": cursor, "limit": 500})
                page.raise_for_status()
                data = page.json()
                if not data["items"]:
                    return items
                items += data["items"]
                cursor = data["next"]

    def stop(self) -> None:
        procs = [self.api, self.consumers, *self.extra.values()]
        for proc in procs:
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            if proc is not None:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
