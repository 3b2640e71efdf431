"""`vigie serve --workers N`: each worker has its own socket, the kernel spreads the
connections over them, and a worker that dies is replaced."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from services.runner import LOCAL_LOAD_LIMITS, HubProcesses, wait_http


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _sockets(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return count


def test_connections_spread_over_the_workers_and_a_dead_one_is_replaced(
        broker, database_factory, tmp_path):
    hub = HubProcesses(tmp_path, database_factory("sqlite"), broker.settings.kafka_port,
                       workers=2, extra_env=LOCAL_LOAD_LIMITS)
    hub.setup()
    hub.start_api()
    try:
        workers = [p for p in _children(hub.api.pid) if _sockets(p) > 0]
        assert len(workers) == 2, workers
        idle = {p: _sockets(p) for p in workers}
        clients = [httpx.Client(base_url=hub.url) for _ in range(40)]
        for client in clients:  # one keep-alive connection each, held open
            assert client.get("/healthz").status_code == 200
        held = {p: _sockets(p) - idle[p] for p in workers}
        assert all(n >= 5 for n in held.values()), held  # 40 over 2: never all on one
        for client in clients:
            client.close()

        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            alive = [p for p in _children(hub.api.pid) if _sockets(p) > 0]
            if len(alive) == 2 and workers[0] not in alive:
                break
            assert time.monotonic() < deadline, alive
            time.sleep(0.5)
        wait_http(f"{hub.url}/healthz")
    finally:
        hub.stop()
