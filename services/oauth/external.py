"""An external identity provider trusted for API tokens (production may issue tokens
from the State's IdP rather than from the hub): its JWKS is fetched in the background,
so that token checks stay local and never wait on the network."""

from __future__ import annotations

import logging
import threading
import time

import httpx
from joserfc.jwk import RSAKey

log = logging.getLogger(__name__)


class ExternalKeys:
    def __init__(self, jwks_url: str, issuer: str, refresh_seconds: float = 300.0,
                 min_refresh_seconds: float = 10.0):
        self.jwks_url, self.issuer = jwks_url, issuer
        self._refresh_seconds = refresh_seconds
        self._min_refresh = min_refresh_seconds
        self._keys: dict[str, RSAKey] = {}
        self._fetched_at = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def fetch(self) -> None:
        resp = httpx.get(self.jwks_url, timeout=10)
        resp.raise_for_status()
        keys = {}
        for jwk in resp.json().get("keys", []):
            if jwk.get("kty") == "RSA" and isinstance(jwk.get("kid"), str) \
                    and jwk.get("use", "sig") == "sig":
                keys[jwk["kid"]] = RSAKey.import_key(jwk)
        self._keys, self._fetched_at = keys, time.monotonic()

    def start(self) -> None:
        try:
            self.fetch()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("external JWKS %s not fetched yet: %s", self.jwks_url, exc)
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="external-jwks",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._refresh_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            # At most one fetch per min_refresh, however many unknown kids arrive.
            self._stop.wait(max(0.0, self._fetched_at + self._min_refresh - time.monotonic()))
            try:
                self.fetch()
            except (httpx.HTTPError, ValueError) as exc:  # keep the last good set
                log.warning("external JWKS %s not refreshed: %s", self.jwks_url, exc)

    def public_key(self, kid: str) -> RSAKey | None:
        key = self._keys.get(kid)
        if key is None:
            self._wake.set()  # a new key at the IdP: refresh soon (at most every 10 s)
        return key
