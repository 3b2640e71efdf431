"""The per-process services every handler needs, built once by the app factory and
handed to each request by `HubMiddleware`."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Receive, Scope, Send

from .config import Settings
from .db import Database
from .documents.storage import Storage, storage_for
from .oauth.external import ExternalKeys
from .oauth.keys import KeyRing
from .oauth.tokens import TokenVerifier
from .organisations.directory import Directory
from .sealed import SecretBox
from .verifiable_log.keys import LogKeys
from .verifiable_log.service import Appender
from .writes.group import GroupWriter
from .writes.remote import RemoteWriter


@dataclass
class Hub:
    settings: Settings
    db: Database
    keys: KeyRing
    verifier: TokenVerifier
    log_keys: LogKeys
    writer: GroupWriter | RemoteWriter
    directory: Directory
    # Where documents' encrypted bytes are kept, and the data key sealing their own keys.
    storage: Storage
    box: SecretBox
    # Per-process gauges read at scrape time (kept apart from the global registry).
    scrape_registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    # The OAuth2 authorization server (authlib on a small Flask app), set by the factory.
    oauth: Any = None
    # The submissions' duplicate look-up on the event loop (PostgreSQL), set by the factory.
    duplicates: Any = None

    @classmethod
    def create(cls, settings: Settings) -> Hub:
        db = Database(settings.database_url)
        keys = KeyRing(db, keep_retired_seconds=settings.token_ttl_seconds + 60,
                       jwks_file=settings.kafka_jwks_file, keys_file=settings.signing_keys_file)
        external = None
        if settings.external_jwks_url:
            external = ExternalKeys(settings.external_jwks_url, settings.external_issuer)
            external.start()
        directory = Directory(db)
        verifier = TokenVerifier(keys, settings.issuer, settings.audience, external, directory)
        log_keys = LogKeys(db, settings.log_origin, settings.log_keys_file)
        writer: GroupWriter | RemoteWriter
        if settings.writer_socket:  # a writer process commits (`vigie serve`)
            writer = RemoteWriter(Path(settings.writer_socket))
        else:
            writer = group_writer(settings, db, log_keys)
        return cls(settings, db, keys, verifier, log_keys, writer, directory,
                   storage_for(settings), SecretBox.from_settings(settings))

    def stop(self) -> None:
        """Stop the background readers of the database (keys, disabled clients)."""
        self.keys.stop()
        self.log_keys.stop()
        self.directory.stop()


def group_writer(settings: Settings, db: Database, log_keys: LogKeys) -> GroupWriter:
    """The write path committing in this process (the writer process's, or an API
    process's of its own in tests and one-process tools)."""
    return GroupWriter(db, Appender(log_keys, settings.log_origin, db),
                       budget_seconds=settings.queue_budget_seconds,
                       writers=settings.writers or 1, pace_seconds=settings.group_pace_seconds)


_CURRENT: ContextVar[Hub] = ContextVar("vigie_hub")


def current_hub() -> Hub:
    """The hub of the app serving the current request."""
    return _CURRENT.get()


class HubMiddleware:
    """Makes the app's hub the current one for everything a request runs (handlers run
    in threads get a copy of the context)."""

    def __init__(self, app: ASGIApp, hub: Hub):
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _CURRENT.set(self.hub)
        try:
            await self.app(scope, receive, send)
        finally:
            _CURRENT.reset(token)
