"""A small asyncio load generator: N concurrent senders submitting a realistic mix of
the four exchanges, each submission retried with its own Idempotency-Key until the hub
answers 201 — as a well-behaved client does when a network or the hub fails.

asyncio + httpx rather than locust: one process, no extra dependency, and the
accepted ids and timings are plain Python objects the fault suite and the benchmark
check afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.conftest import (
    PARQUET,
    example_notice,
    example_notification,
    example_order,
    example_request,
)

# (exchange, sender, body): weights follow the expected traffic — notices dominate.
MIX: list[tuple[str, str, Callable[[], dict]]] = [
    ("content-notices", "vigilance-alpha", example_notice),
    ("content-notices", "vigilance-alpha", lambda: example_notice(recipient="plateforme-beta")),
    ("content-notices", "arcom", example_notice),
    ("information-requests", "tj-paris", example_request),
    ("information-requests", "pr-marseille",
     lambda: example_request(recipient="dgs", requesting_authority=PARQUET)),
    ("order-notifications", "pr-marseille", example_notification),
    ("suspension-orders", "tj-lyon", example_order),
]
SENDERS = sorted({sender for _, sender, _ in MIX})
RETRYABLE = {429, 500, 502, 503, 504}


@dataclass
class Accepted:
    item_id: str
    exchange: str
    recipient: str
    accepted_at: float   # time.time() of the 201
    latency: float       # seconds for the request that got the 201


@dataclass
class LoadResult:
    accepted: list[Accepted] = field(default_factory=list)
    # Final answers other than 201 (a bug of the hub or of the mix), by status.
    failed: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    # Answers that were retried with the same key (broker, database or process away).
    retried: Counter = field(default_factory=Counter)
    attempts: int = 0
    started: float = 0.0
    ended: float = 0.0
    generator_cpu: float = 0.0  # CPU seconds the generator itself used, when measured

    @property
    def seconds(self) -> float:
        return max(1e-9, self.ended - self.started)


class Load:
    def __init__(self, base_url: str, tokens: dict[str, str], senders: int = 4,
                 give_up_after: float = 120.0, rate: float | None = None):
        self.base_url = base_url
        self.tokens = tokens
        self.senders = senders
        self.give_up_after = give_up_after
        # Submissions per second for all senders together (None: as fast as answered).
        self.rate = rate
        self.result = LoadResult()
        self._mix = itertools.cycle(MIX)

    async def _submit(self, http: httpx.AsyncClient, exchange: str, sender: str,
                      body: dict) -> None:
        key = str(uuid.uuid4())
        headers = {"Authorization": f"Bearer {self.tokens[sender]}", "Idempotency-Key": key}
        give_up = time.monotonic() + self.give_up_after
        delay = 0.05
        while True:
            self.result.attempts += 1
            started = time.perf_counter()
            try:
                resp = await http.post(f"/v1/{exchange}", json=body, headers=headers)
                status = resp.status_code
            except httpx.TransportError as exc:
                status, resp = type(exc).__name__, None
            if status == 201:
                data = resp.json()
                self.result.accepted.append(Accepted(
                    data["id"], exchange, data["recipient"], time.time(),
                    time.perf_counter() - started))
                return
            if status not in RETRYABLE and resp is not None:
                self.result.failed[status] += 1
                self.result.failures.append(f"{exchange} {status}: {resp.text[:300]}")
                return
            self.result.retried[status] += 1
            if time.monotonic() > give_up:
                self.result.failed[f"gave up after {status}"] += 1
                return
            retry_after = resp.headers.get("Retry-After") if resp is not None else None
            await asyncio.sleep(float(retry_after) if retry_after else
                                delay * (1 + random.random()))
            delay = min(delay * 2, 2.0)

    async def _sender(self, http: httpx.AsyncClient, stop: Callable[[], bool]) -> None:
        interval = self.senders / self.rate if self.rate else 0.0
        next_at = time.monotonic()
        while not stop():
            exchange, sender, body = next(self._mix)
            await self._submit(http, exchange, sender, body())
            if interval:
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def run(self, stop: Callable[[], bool]) -> LoadResult:
        limits = httpx.Limits(max_connections=self.senders, max_keepalive_connections=self.senders)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=15, limits=limits) as http:
            self.result.started = time.time()
            await asyncio.gather(*(self._sender(http, stop) for _ in range(self.senders)))
            self.result.ended = time.time()
        return self.result

    def run_for(self, seconds: float) -> LoadResult:
        deadline = time.monotonic() + seconds
        return asyncio.run(self.run(lambda: time.monotonic() > deadline))

    def in_background(self) -> tuple[threading.Thread, threading.Event]:
        """Runs until the returned event is set; join the thread, then read .result."""
        stop = threading.Event()
        thread = threading.Thread(target=lambda: asyncio.run(self.run(stop.is_set)),
                                  name="load", daemon=True)
        thread.start()
        return thread, stop
