"""The hub witnessing its own log: every few seconds the latest checkpoint must verify
against the keys the hub signs with and extend the one accepted before, whose note is
kept outside the database (a file in the relay's state), so that a database restored
from an older backup, or rewritten, shows up as a metric and an alert. Parties run the
same check from their side (`vigie log witness`): they are the stronger witnesses."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ..config import Settings
from ..db import Database
from ..metrics import LOG_CHECKPOINT_TIME, LOG_CONSISTENT, LOG_SIZE, LOG_WITNESS_RUNS
from . import service, tree
from .keys import LogKeys
from .verifier import Refused, Witness

log = logging.getLogger(__name__)


class HubWitness:
    def __init__(self, db: Database, settings: Settings, interval_seconds: float = 10.0,
                 state_path: Path | None = None):
        self.db = db
        self.settings = settings
        self.interval = interval_seconds
        self.state_path = state_path or settings.state_dir / "witness" / "hub.json"
        self.keys = LogKeys(db, settings.log_origin, settings.log_keys_file)
        self.broken: str | None = None
        self.witness: Witness | None = None  # its last checkpoint read once from the file

    def check(self) -> None:
        """One check; a refusal is sticky (an operator must look) until restarted."""
        if self.broken is not None:
            return
        self.keys.reload()  # rotated keys are trusted from their first checkpoint
        keys = self.keys.trusted(self.settings.issuer)
        if self.witness is None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            self.witness = Witness(keys, str(self.state_path))
        self.witness.keys = keys
        with self.db.reads() as conn:
            row = service.latest(conn)
            if row is None:
                LOG_CONSISTENT.set(1)
                return

            def prove(first: int, second: int) -> list[bytes]:
                return tree.consistency_proof(first, second, service.fetcher(conn))

            try:
                checkpoint = self.witness.observe(row.note, prove)
            except Refused as exc:
                self.broken = str(exc)
                LOG_CONSISTENT.set(0)
                LOG_WITNESS_RUNS.labels("inconsistent").inc()
                log.critical("verifiable log inconsistent: %s", exc)
                return
        LOG_CONSISTENT.set(1)
        LOG_SIZE.set(checkpoint.size)
        LOG_CHECKPOINT_TIME.set(checkpoint.time.timestamp())
        LOG_WITNESS_RUNS.labels("consistent").inc()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.check()
            except Exception:  # noqa: BLE001 - a database away is reported elsewhere
                LOG_WITNESS_RUNS.labels("error").inc()
                log.exception("log witness check failed")
            stop.wait(self.interval)
