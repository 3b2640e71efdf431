"""The API's worker processes: one uvicorn server per worker, each listening on its own
SO_REUSEPORT socket, so that the kernel spreads new connections across them. With one
shared socket (uvicorn's own `workers=`), the first worker to wake accepts every pending
connection: measured under `make bench`, one of two workers took 85 % of 64 keep-alive
connections and the hub ran at one process's speed. The supervisor restarts a worker
that dies and stops them all on SIGTERM or SIGINT.

Beside the workers runs the writer process: the write path, which every worker hands its
writes to (services/writes/remote.py says why)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .logs import configure as configure_logs

log = logging.getLogger(__name__)
APP = "services.app:create_app"
# As long a queue of connections not yet accepted as the kernel allows (it caps it at
# net.core.somaxconn): under a burst of new connections a full queue drops their SYNs, and
# the clients retry after 1, 3, 7… seconds — measured at twice the maximum rate with
# uvicorn's 2,048, thousands of drops a second and accepted requests answered after
# 5–15 s. uvicorn listens again with its own setting: both are set.
BACKLOG = 65535


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


# Connections accepted at most per turn of the event loop.
ACCEPT_BATCH = 1024


class _Acceptor:
    """Accepts every connection waiting on a listening socket at each turn of the event
    loop. uvloop's own server (libuv) accepts one per turn: measured at twice the maximum
    rate, with a turn taking 60–190 ms under load, 1,500 connections waited in the
    kernel's queue for up to 10 s and the requests on them were answered 5–19 s late —
    refused or accepted, nobody had even read them. Has the part of asyncio's `Server`
    that uvicorn's shutdown uses."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 protocol_factory: Any):
        self.loop = loop
        self.sock = sock
        self.protocol_factory = protocol_factory
        self.tasks: set[asyncio.Task] = set()
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors: the waiting connections stay queued; listening
                    # again shortly rather than spinning on a socket that stays readable.
                    log.warning("accept: %s; pausing 100 ms", exc)
                    self.loop.remove_reader(self.sock.fileno())
                    self.loop.call_later(0.1, self._resume)
                return
            task = self.loop.create_task(self._serve(conn))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _serve(self, conn: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(self.protocol_factory, conn)
        except OSError:
            conn.close()  # the client left before its connection was set up

    def _resume(self) -> None:
        if self.sock.fileno() != -1:
            self.loop.add_reader(self.sock.fileno(), self._accept)

    def close(self) -> None:
        if self.sock.fileno() != -1:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()

    async def wait_closed(self) -> None:
        return None


class Server(uvicorn.Server):
    """uvicorn's server, its listening sockets served by `_Acceptor`s."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[] if sockets is not None else None)
        if sockets is None or self.should_exit:
            return
        config, loop = self.config, asyncio.get_running_loop()

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state,
                app_state=self.lifespan.state, _loop=loop)

        self.servers += [_Acceptor(loop, sock, protocol) for sock in sockets]


def listening_socket(host: str, port: int, reuse_port: bool = True) -> socket.socket:
    """`reuse_port`: for workers that each listen on the port (the kernel spreads new
    connections across them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def name_process(name: str) -> None:
    """The process's name as ps and /proc/<pid>/comm show it (15 bytes at most)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def settle_heap() -> None:
    """Once a process has built what it serves with (the contract, compiled schemas,
    table metadata, pools), those objects are moved out of the cyclic collector's reach:
    otherwise every full collection walks them all. Measured at 630 submissions a second,
    the API worker's full collections took 80 ms each, nine in 25 s, each one a pause of
    every request in flight."""
    gc.collect()
    gc.freeze()


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    name_process("vigie-api")
    configure_logs()
    sock = listening_socket(host, port)
    # log_config=None: uvicorn's own loggers go through the process's JSON handler.
    config = uvicorn.Config(APP, factory=True, http=CoalescingHttpProtocol, backlog=BACKLOG,
                            log_config=None, **options)
    config.load()
    settle_heap()
    Server(config).run(sockets=[sock])


def _writer(path: str) -> None:
    """The writer process: the write path, taking the workers' writes on its socket until
    SIGTERM, then letting its groups in flight finish."""
    import logging

    from . import models  # noqa: F401 - every table a write may name
    from .config import Settings
    from .db import Database
    from .exchanges import service  # noqa: F401 - what an erasure carries in a write
    from .hub import group_writer
    from .verifiable_log.keys import LogKeys
    from .writes import remote

    name_process("vigie-writer")
    configure_logs(level=logging.WARNING)
    settings = Settings.from_env()
    db = Database(settings.database_url)
    log_keys = LogKeys(db, settings.log_origin, settings.log_keys_file)
    log_keys.start()
    writer = group_writer(settings, db, log_keys)
    writer.catch_up()
    settle_heap()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    remote.serve(writer, Path(path), stop)
    log_keys.stop()


def serve(host: str, port: int, workers: int, options: dict[str, Any],
          writer: bool = True) -> None:
    """Run `workers` servers (and, with `writer`, the writer process they commit through)
    until told to stop; `options` are uvicorn's Config's. A process that dies is replaced,
    as uvicorn's supervisor does; on SIGTERM or SIGINT the workers stop first, then the
    writer, once their writes are committed."""
    if port == 0:
        raise ValueError("the workers need a fixed port (they each bind it)")
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    run_dir = Path(tempfile.mkdtemp(prefix="vigie-"))  # 0700: only this user enters
    path = run_dir / "writer.sock"

    def start_worker() -> multiprocessing.process.BaseProcess:
        proc = context.Process(target=_worker, args=(host, port, options), daemon=False)
        proc.start()
        return proc

    def start_writer() -> multiprocessing.process.BaseProcess:
        proc = context.Process(target=_writer, args=(str(path),), daemon=False,
                               name="vigie-writer")
        proc.start()
        deadline = time.monotonic() + 60
        while not path.exists():  # listening (its catch-up signed)
            if not proc.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the writer process did not start")
            time.sleep(0.05)
        return proc

    def on_signal(signum, _frame) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    writer_proc = None
    if writer:
        os.environ["VIGIE_WRITER_SOCKET"] = str(path)  # inherited by the workers
        writer_proc = start_writer()
    procs = [start_worker() for _ in range(workers)]
    try:
        while not stop.wait(0.1):
            if writer_proc is not None and not writer_proc.is_alive():
                writer_proc.join()
                writer_proc = start_writer()
            for i, proc in enumerate(procs):
                if not proc.is_alive():
                    proc.join()
                    procs[i] = start_worker()
    finally:
        _stop(procs)
        if writer_proc is not None:
            _stop([writer_proc])
        shutil.rmtree(run_dir, ignore_errors=True)


def _stop(procs: list[multiprocessing.process.BaseProcess]) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
