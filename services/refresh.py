"""State read from the database and kept fresh by a background thread (keys, disabled
clients): what request handling reads must never wait for the database."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Run `work` now, then every `seconds` in a daemon thread until stopped. A failing run
    keeps what the last good one left (readiness reports the database)."""

    def __init__(self, name: str, seconds: float, work: Callable[[], None]):
        self.name = name
        self.seconds = seconds
        self.work = work
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.work()
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.work()
            except Exception as exc:  # noqa: BLE001 - keep the last good state
                log.debug("%s: refresh failed (%s)", self.name, exc)
