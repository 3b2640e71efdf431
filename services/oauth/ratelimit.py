"""Rate limits: a token bucket per key (a client id, an address), in each API process;
at most `max_keys` buckets are kept (a flood of new keys cannot grow it without end)."""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    def __init__(self, per_minute: float, burst: int, clock=time.monotonic,
                 max_keys: int = 100_000):
        self.rate = per_minute / 60.0
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client_id: str) -> float:
        """0 when the request may go; otherwise the seconds to wait (for Retry-After)."""
        now = self.clock()
        with self._lock:
            if len(self._buckets) >= self.max_keys and client_id not in self._buckets:
                self._forget_full(now)
            tokens, last = self._buckets.get(client_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client_id] = (tokens - 1, now)
                return 0.0
            self._buckets[client_id] = (tokens, now)
            return (1 - tokens) / self.rate if self.rate else math.inf

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled (forgetting them changes nothing); if none
        has, the oldest half."""
        full = [k for k, (tokens, last) in self._buckets.items()
                if tokens + (now - last) * self.rate >= self.burst]
        if not full:
            full = sorted(self._buckets, key=lambda k: self._buckets[k][1])[
                :len(self._buckets) // 2]
        for key in full:
            del self._buckets[key]
