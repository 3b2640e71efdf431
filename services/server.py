"""The API's worker processes: one uvicorn server per worker, each listening on its own
SO_REUSEPORT socket, so that the kernel spreads new connections across them. With one
shared socket (uvicorn's own `workers=`), the first worker to wake accepts every pending
connection: measured under `make bench`, one of two workers took 85 % of 64 keep-alive
connections and the hub ran at one process's speed. The supervisor restarts a worker
that dies and stops them all on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import socket
import threading
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

APP = "services.app:create_app"


class _Coalescing:
    """A transport whose writes within one turn of the event loop leave as one: uvicorn
    writes a response's head and its body apart, two system calls (and two loopback
    segments) where one does — measured as the largest single item of an API process's
    CPU under load. Everything else is the real transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def _flush(self) -> None:
        if self._pending:
            data, self._pending = b"".join(self._pending), []
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._flush()
        self._transport.set_protocol(protocol)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a coalescing transport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_Coalescing(transport, self.loop))  # type: ignore[arg-type]


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    sock = listening_socket(host, port)
    uvicorn.Server(uvicorn.Config(APP, factory=True, http=CoalescingHttpProtocol,
                                  **options)).run(sockets=[sock])


def serve(host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """Run `workers` servers until told to stop; `options` are uvicorn's Config's."""
    if port == 0:
        raise ValueError("several workers need a fixed port (they each bind it)")
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start() -> multiprocessing.process.BaseProcess:
        proc = context.Process(target=_worker, args=(host, port, options), daemon=False)
        proc.start()
        return proc

    def on_signal(signum, _frame) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    procs = [start() for _ in range(workers)]
    while not stop.wait(0.5):
        for i, proc in enumerate(procs):
            if not proc.is_alive():  # died: replaced, as uvicorn's supervisor does
                proc.join()
                procs[i] = start()
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
