"""The API's worker processes: one uvicorn server per worker, each listening on its own
SO_REUSEPORT socket, so that the kernel spreads new connections across them. With one
shared socket (uvicorn's own `workers=`), the first worker to wake accepts every pending
connection: measured under `make bench`, one of two workers took 85 % of 64 keep-alive
connections and the hub ran at one process's speed. The supervisor restarts a worker
that dies and stops them all on SIGTERM or SIGINT."""

from __future__ import annotations

import multiprocessing
import signal
import socket
import threading
from typing import Any

import uvicorn

APP = "services.app:create_app"


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
    uvicorn.Server(uvicorn.Config(APP, factory=True, **options)).run(sockets=[sock])


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
