"""The write path in a process of its own: API processes hand their writes to one writer
process (`vigie serve` starts it beside its workers), which commits them in groups.

Why: in an API process the writer thread shares the interpreter lock with the event loop
that serves requests. Each time it waits on the database it gives the lock up, and gets
it back only when the loop lets go (up to the 5 ms switch interval): measured under load,
a group of about fifty writes spent 56 ms in its transaction for 10 ms of its own CPU and
12 ms of PostgreSQL's. In a process of its own nothing competes for its lock, the API
process keeps its core for requests, and the workers of a pod share one writer — one
group in flight instead of one per worker, each locking the heads the others wait for.

Writes travel over a Unix socket in a directory only the hub's user can enter, and the
writer checks that a peer runs as that user (SO_PEERCRED); frames are decoded by an
unpickler that builds only what writes are made of (`wire`). A write's outcome comes back
once its group has committed. A client that loses the writer (killed, restarting) answers
its requests in flight 503: committed or not, a retry with the same Idempotency-Key gets
the first answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import threading
import weakref
from concurrent.futures import CancelledError, Future
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from .. import tracing
from . import wire
from .group import AlreadyAnswered, Conflict, GroupWriter, Overloaded, Waiter, Write

log = logging.getLogger(__name__)

# Outcome kinds on the wire: what the writer caught, and what the API process raises.
_KINDS: list[tuple[type[BaseException], str, Any]] = [
    (AlreadyAnswered, "already_answered", lambda _: AlreadyAnswered()),
    (Conflict, "conflict", lambda _: Conflict()),
    (Overloaded, "overloaded", lambda _: Overloaded()),
    (IntegrityError, "integrity", lambda d: IntegrityError("write path", None, Exception(d))),
    (OperationalError, "unavailable",
     lambda d: OperationalError("write path", None, Exception(d))),
    (InterfaceError, "unavailable",
     lambda d: OperationalError("write path", None, Exception(d)))]
_RAISED = {kind: make for _, kind, make in _KINDS}


def _kind(exc: BaseException) -> str:
    return next((kind for cls, kind, _ in _KINDS if isinstance(exc, cls)), "error")


def _raised(kind: str, detail: str) -> BaseException:
    make = _RAISED.get(kind)
    return make(detail) if make else RuntimeError(f"the writer failed: {detail}")


# --- the writer process's side ----------------------------------------------------------

class _Peer:
    """A connected API process: outcomes go back on its socket, one send per group."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.lock = threading.Lock()

    def send(self, data: bytes) -> None:
        with self.lock:
            self.sock.sendall(data)


class _PeerWaiter(Waiter):
    def __init__(self, peer: _Peer, request_id: int):
        super().__init__()
        self.key = peer
        self.request_id = request_id

    @classmethod
    def deliver(cls, key: Any, waiters: list[Waiter]) -> None:
        outcomes = []
        for w in waiters:
            assert isinstance(w, _PeerWaiter) and w.outcome is not None
            ok, value = w.outcome
            outcomes.append((w.request_id, "ok", "") if ok
                            else (w.request_id, _kind(value), str(value)[:500]))
        with contextlib.suppress(OSError):  # the API process went away: nobody to tell
            key.send(wire.encode_outcomes(outcomes))


def serve(writer: GroupWriter, path: Path, stop: threading.Event,
          drain_seconds: float = 30) -> None:
    """Take writes on the socket at `path` until `stop` is set; then let the groups in
    flight commit and their outcomes leave before closing the connections."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bound under another name, then renamed: once `path` exists it takes connections,
    # and never had looser rights.
    pending = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        pending.unlink()
    listener.bind(str(pending))
    os.chmod(pending, 0o600)
    listener.listen(64)
    os.replace(pending, path)
    listener.settimeout(0.2)
    peers: list[socket.socket] = []
    try:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            sock.settimeout(None)
            if not _same_user(sock):
                log.warning("writer: a peer of another user was refused")
                sock.close()
                continue
            peers.append(sock)
            threading.Thread(target=_read_peer, args=(writer, sock), daemon=True,
                             name="writer-peer").start()
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        writer.drain(drain_seconds)
        for sock in peers:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


_CREDENTIALS = struct.Struct("3i")  # pid, uid, gid


def _same_user(sock: socket.socket) -> bool:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    _, uid, _ = _CREDENTIALS.unpack(raw)
    return uid == os.getuid()


def _read_peer(writer: GroupWriter, sock: socket.socket) -> None:
    peer = _Peer(sock)
    frames = wire.Frames()
    try:
        while True:
            data = sock.recv(1 << 20)
            if not data:
                return
            for payload in frames.feed(data):
                for request_id, write in wire.decode_writes(payload):
                    if not isinstance(write, Write):
                        raise ValueError("a frame held something else than writes")
                    writer.enqueue(write, _PeerWaiter(peer, request_id))
    except Exception as exc:  # noqa: BLE001 - a broken peer is dropped, the writer lives on
        log.warning("writer: peer dropped (%s)", str(exc)[:200])
    finally:
        with contextlib.suppress(OSError):
            sock.close()


# --- the API process's side -------------------------------------------------------------

class _Channel(asyncio.Protocol):
    """One event loop's connection to the writer: writes queued during one turn of the
    loop leave in one frame; outcomes settle their futures as they come back."""

    def __init__(self, path: Path, loop: asyncio.AbstractEventLoop):
        self.path = path
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.connecting: asyncio.Future | None = None
        self.pending: dict[int, asyncio.Future] = {}
        self.outbox: list[tuple[int, Write]] = []
        self.frames = wire.Frames()
        self.next_id = 0

    async def written(self, write: Write) -> None:
        if self.transport is None or self.transport.is_closing():
            await self._connect()
        self.next_id += 1
        request_id = self.next_id
        future = self.loop.create_future()
        self.pending[request_id] = future
        if not self.outbox:
            self.loop.call_soon(self._flush)
        self.outbox.append((request_id, write))
        try:
            await future
        finally:
            # A refusal's traceback holds this frame, which holds the future holding the
            # refusal: unlinked, it is freed at once rather than by the cyclic collector.
            del future

    async def _connect(self) -> None:
        if self.connecting is not None:
            await asyncio.shield(self.connecting)
            return
        self.connecting = self.loop.create_future()
        try:
            self.frames = wire.Frames()
            await self.loop.create_unix_connection(lambda: self, str(self.path))
            self.connecting.set_result(None)
        except OSError as exc:
            error = OperationalError("write path", None, exc)
            self.connecting.set_exception(error)
            self.connecting.exception()  # retrieved: the waiters raise it themselves
            raise error from exc
        finally:
            self.connecting = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            payloads = self.frames.feed(data)
        except ValueError as exc:
            self.connection_lost(exc)
            return
        for payload in payloads:
            self._settle(wire.decode_outcomes(payload))

    def connection_lost(self, exc: Exception | None) -> None:
        """The writer went away: every write in flight is answered 503 (committed or not:
        a retry with its Idempotency-Key tells)."""
        if self.transport is not None:
            self.transport.close()
        self.transport = None
        self._fail(list(self.pending), f"the writer process went away ({exc})")

    def _flush(self) -> None:
        batch, self.outbox = self.outbox, []
        if not batch:
            return
        if self.transport is None or self.transport.is_closing():
            self._fail([i for i, _ in batch], "the writer process is not connected")
            return
        try:
            self.transport.write(wire.encode_writes(batch))
        except Exception as exc:  # noqa: BLE001 - a write that cannot travel fails alone
            self._fail([i for i, _ in batch], f"not sent to the writer ({exc})")

    def _settle(self, outcomes: list[tuple[int, str, str]]) -> None:
        for request_id, kind, detail in outcomes:
            future = self.pending.pop(request_id, None)
            if future is None or future.done():
                continue
            if kind == "ok":
                future.set_result(None)
            else:
                future.set_exception(_raised(kind, detail))

    def _fail(self, ids: list[int], why: str) -> None:
        for request_id in ids:
            future = self.pending.pop(request_id, None)
            if future is not None and not future.done():
                future.set_exception(OperationalError("write path", None, Exception(why)))


class RemoteWriter:
    """The write path as an API process sees it when a writer process commits: the
    `GroupWriter` interface (`written`, `submit`, `commit`), over the writer's socket —
    one connection per event loop (a server has one; tests run one per request)."""

    on_commit = None

    def __init__(self, path: Path):
        self.path = path
        self._channels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Channel] = \
            weakref.WeakKeyDictionary()
        self._loop: asyncio.AbstractEventLoop | None = None

    def catch_up(self) -> bool:
        """The writer process signs what the log lacks when it starts."""
        return False

    async def written(self, write: Write) -> None:
        loop = asyncio.get_running_loop()
        channel = self._channels.get(loop)
        if channel is None:
            channel = self._channels[loop] = _Channel(self.path, loop)
        self._loop = loop
        if not tracing.enabled():
            await channel.written(write)
            return
        # The commit, durable once this returns (the writer process's group commit).
        with tracing.span("commit", tracing.SpanKind.CLIENT, **{"db.operation.name": "commit"}):
            await channel.written(write)

    def submit(self, write: Write) -> Future:
        """From any thread: a future of the write's commit — through an event loop's
        connection, or (a thread of a process whose loop has not written yet) a
        connection of its own."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            out: Future = Future()
            task = running.create_task(self.written(write))
            task.add_done_callback(lambda t: _copy(t, out))
            return out
        loop = self._loop
        if loop is not None and loop.is_running():
            return asyncio.run_coroutine_threadsafe(self.written(write), loop)
        out = Future()
        try:
            self._commit_alone(write)
            out.set_result(None)
        except BaseException as exc:  # noqa: BLE001 - the caller gets it from the future
            out.set_exception(exc)
        return out

    def commit(self, write: Write) -> None:
        try:
            self.submit(write).result()
        except CancelledError:
            # The loop that carried it stopped (the server shutting down): like a writer
            # gone, a 503 the client retries with its Idempotency-Key — never a 500.
            raise OperationalError("write path", None,
                                   Exception("the write was cancelled")) from None

    def _commit_alone(self, write: Write) -> None:
        """One write over a blocking connection of its own."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(60)
                sock.connect(str(self.path))
                sock.sendall(wire.encode_writes([(0, write)]))
                frames = wire.Frames()
                while True:
                    data = sock.recv(1 << 16)
                    if not data:
                        raise OSError("the writer closed the connection")
                    for payload in frames.feed(data):
                        for _, kind, detail in wire.decode_outcomes(payload):
                            if kind != "ok":
                                raise _raised(kind, detail)
                            return
        except OSError as exc:
            raise OperationalError("write path", None, exc) from exc


def _copy(task: asyncio.Task, out: Future) -> None:
    if task.cancelled():
        out.cancel()
    elif task.exception() is not None:
        out.set_exception(task.exception())
    else:
        out.set_result(None)
