"""How the hub's own services connect to Kafka: one configuration for every producer,
consumer and admin client — plaintext on the local broker, TLS (with a client
certificate for mTLS) or SASL/OAUTHBEARER on an external cluster (Strimzi or managed)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from kafka.net.sasl.oauth import AbstractTokenProvider

from ..config import Settings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


class ClientCredentialsTokens(AbstractTokenProvider):
    """OAuth2 client-credentials tokens from the cluster's identity provider, reused until
    a minute before they expire (the client asks at each (re)authentication)."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, scope: str = "",
                 timeout: float = 10.0):
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.scope, self.timeout = scope, timeout
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.time() > self._expires - 60:
                data = {"grant_type": "client_credentials"}
                if self.scope:
                    data["scope"] = self.scope
                resp = httpx.post(self.token_url, data=data, timeout=self.timeout,
                                  auth=(self.client_id, self.client_secret))
                resp.raise_for_status()
                body = resp.json()
                self._token = body["access_token"]
                self._expires = time.time() + float(body.get("expires_in", 300))
            return self._token


_PROVIDERS: dict[tuple, ClientCredentialsTokens] = {}


def client_config(settings: Settings) -> dict[str, Any]:
    """kafka-python keyword arguments for the configured cluster (bootstrap included)."""
    protocol = settings.kafka_security_protocol
    if protocol not in PROTOCOLS:
        raise ValueError(f"VIGIE_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}")
    config: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap,
                              "security_protocol": protocol,
                              # Back within seconds of a broker restart (the default
                              # backoff grows to 30 s, and deliveries wait that long).
                              "reconnect_backoff_max_ms": 5000}
    if protocol in ("SSL", "SASL_SSL"):
        config["ssl_cafile"] = settings.kafka_ssl_cafile or None
        if settings.kafka_ssl_certfile:  # mTLS: the hub's client certificate
            config["ssl_certfile"] = settings.kafka_ssl_certfile
            config["ssl_keyfile"] = settings.kafka_ssl_keyfile or None
    if protocol.startswith("SASL_"):
        if not settings.kafka_oauth_token_url:
            raise ValueError("SASL needs VIGIE_KAFKA_OAUTH_TOKEN_URL (OAUTHBEARER)")
        key = (settings.kafka_oauth_token_url, settings.kafka_oauth_client_id,
               settings.kafka_oauth_scope)
        if key not in _PROVIDERS:  # one token cache per process and identity
            _PROVIDERS[key] = ClientCredentialsTokens(
                settings.kafka_oauth_token_url, settings.kafka_oauth_client_id,
                settings.kafka_oauth_client_secret, settings.kafka_oauth_scope)
        config["sasl_mechanism"] = "OAUTHBEARER"
        config["sasl_oauth_token_provider"] = _PROVIDERS[key]
    return config
