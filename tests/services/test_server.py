"""`vigie serve --workers N`: each worker has its own socket, the kernel spreads the
connections over them, and a worker that dies is replaced; so is the writer process the
workers commit through, and meanwhile writes are answered 503, never lost."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import time
import uuid
from pathlib import Path

import httpx
import uvloop

from services.runner import LOCAL_LOAD_LIMITS, HubProcesses, wait_http
from services.server import _Acceptor, listening_socket
from tests.conftest import example_request


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _named(pid: int, name: str) -> list[int]:
    """The supervisor's children of that name (vigie-api, vigie-writer)."""
    out = []
    for child in _children(pid):
        try:
            if Path(f"/proc/{child}/comm").read_text().strip() == name:
                out.append(child)
        except OSError:
            continue
    return out


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
        workers = _named(hub.api.pid, "vigie-api")
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
            alive = _named(hub.api.pid, "vigie-api")
            if len(alive) == 2 and workers[0] not in alive:
                break
            assert time.monotonic() < deadline, alive
            time.sleep(0.5)
        wait_http(f"{hub.url}/healthz")
    finally:
        hub.stop()


def test_a_writer_process_killed_is_replaced_and_meanwhile_writes_are_answered_503(
        broker, database_factory, tmp_path):
    hub = HubProcesses(tmp_path, database_factory("postgresql"),
                       broker.settings.kafka_port, extra_env=LOCAL_LOAD_LIMITS)
    hub.setup()
    hub.start_api()
    court = {"Authorization": f"Bearer {hub.token('tj-paris')}"}
    try:
        def submit(key: str) -> httpx.Response:
            return httpx.post(f"{hub.url}/v1/information-requests", json=example_request(),
                              headers={**court, "Idempotency-Key": key}, timeout=30)

        assert submit(str(uuid.uuid4())).status_code == 201
        (writer,) = _named(hub.api.pid, "vigie-writer")
        os.kill(writer, signal.SIGKILL)
        answers, key = [], str(uuid.uuid4())
        deadline = time.monotonic() + 60
        while not answers or answers[-1] != 201:
            assert time.monotonic() < deadline, answers
            answers.append(submit(key).status_code)
            time.sleep(0.05)
        assert set(answers) <= {201, 503}, answers
        assert 503 in answers  # the writer was away a moment, and said so
        (replaced,) = _named(hub.api.pid, "vigie-writer")
        assert replaced != writer
        # The retry under the same key got the one item, and readiness sees the writer.
        assert submit(key).headers.get("Idempotent-Replayed") == "true"
        assert httpx.get(f"{hub.url}/readyz").json()["checks"]["writer"] == "ok"
    finally:
        hub.stop()


class _Counting(asyncio.Protocol):
    made: list[asyncio.Transport] = []

    def connection_made(self, transport) -> None:
        self.made.append(transport)


def test_every_connection_waiting_is_accepted_in_one_turn_of_the_loop():
    """uvloop's own server takes one connection a turn; under load a turn lasts tens of
    milliseconds, and a burst of new connections waited seconds in the kernel's queue."""
    async def main() -> tuple[int, bool]:
        loop = asyncio.get_running_loop()
        sock = listening_socket("127.0.0.1", 0, reuse_port=False)
        clients = []
        for _ in range(300):  # handshakes done by the kernel, none accepted yet
            c = socket.socket()
            c.connect(sock.getsockname())
            clients.append(c)
        made: list[asyncio.Transport] = []
        acceptor = _Acceptor(loop, sock, lambda: _Counting())
        _Counting.made = made
        loop.remove_reader(sock.fileno())  # this test turns the loop itself
        acceptor._accept()  # one turn's callback
        for _ in range(3):
            await asyncio.sleep(0)  # the connections' set-up tasks run
        try:
            sock.accept()
            queue_empty = False
        except BlockingIOError:
            queue_empty = True
        for t in made:
            t.close()
        for c in clients:
            c.close()
        acceptor.close()
        return len(made), queue_empty

    made, queue_empty = uvloop.run(main())
    assert made == 300
    assert queue_empty


def test_out_of_descriptors_pauses_accepting_instead_of_spinning():
    class Full:
        def __init__(self) -> None:
            self.calls = 0

        def fileno(self) -> int:
            return 99

        def accept(self):
            self.calls += 1
            raise OSError(errno.EMFILE, "Too many open files")

        def setblocking(self, flag: bool) -> None:
            pass

    class Loop:
        def __init__(self) -> None:
            self.readers: set[int] = set()
            self.later: list[float] = []

        def add_reader(self, fd, callback) -> None:
            self.readers.add(fd)

        def remove_reader(self, fd) -> None:
            self.readers.discard(fd)

        def call_later(self, delay, callback) -> None:
            self.later.append(delay)
            self.resume = callback

    sock, loop = Full(), Loop()
    acceptor = _Acceptor(loop, sock, object)  # type: ignore[arg-type]
    acceptor._accept()
    assert sock.calls == 1 and loop.readers == set() and loop.later == [0.1]
    loop.resume()
    assert loop.readers == {99}
