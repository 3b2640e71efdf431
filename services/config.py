"""Configuration read from the environment, once, into an immutable object.

Every setting has a development default so that `make run` works on a fresh
machine; production overrides them through the Helm chart.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _int(env: dict[str, str], name: str, default: int) -> int:
    return int(env.get(name, default))


@dataclass(frozen=True)
class Settings:
    # Where development state lives: the SQLite database, generated keys and secrets, the
    # local broker's data.
    state_dir: Path
    # The database (SQLAlchemy URL): SQLite by default, postgresql+psycopg://… in production.
    database_url: str
    # The broker the hub's own services use, and the local broker's ports (`vigie kafka
    # start`: client, controller).
    kafka_bootstrap: str
    kafka_port: int
    kafka_controller_port: int
    # The SASL/OAUTHBEARER listener recipients consume their own topics through.
    kafka_external_port: int
    kafka_external_bootstrap: str
    kafka_external_protocol: str
    # The audience of the hub's tokens that the broker accepts (feed:read tokens carry it).
    kafka_audience: str
    # Where the hub publishes its JWKS for a broker that reads a file ("" = nowhere).
    kafka_jwks_file: str
    # The hub's topics: the name prefix (feeds are <prefix>feed.<org>), and the partitions
    # and replication of the topics the hub creates.
    topic_prefix: str
    topic_partitions: int
    topic_replication: int
    # The hub's access tokens: issuer, audience, lifetime in seconds (900 at most).
    issuer: str
    audience: str
    token_ttl_seconds: int
    # The largest request body accepted (bytes); documents have their own limit.
    max_body_bytes: int
    # Where clients reach the API (the token endpoint, links, the default issuer).
    public_url: str
    # Webhooks: http and private addresses only where allowed (development, tests).
    webhook_allow_http: bool = False
    webhook_allow_private: bool = False
    # Webhook deliveries: attempts before a dead letter, the backoff's base and cap, and
    # each attempt's timeout (seconds).
    webhook_max_attempts: int = 8
    webhook_backoff_base_seconds: float = 5.0
    webhook_backoff_max_seconds: float = 900.0
    webhook_timeout_seconds: float = 5.0
    # How long a webhook's previous secret still signs after it is rotated (both sent).
    webhook_secret_overlap_seconds: int = 86400
    # Per client and API process: sustained requests per minute, and the burst allowed.
    rate_limit_per_minute: float = 1200.0
    rate_limit_burst: int = 200
    # Before authentication: per client address (every request), and per client id at the
    # token endpoint (a secret check costs 16 MiB of scrypt).
    address_rate_limit_per_minute: float = 3000.0
    address_rate_limit_burst: int = 500
    token_rate_limit_per_minute: float = 20.0
    token_rate_limit_burst: int = 10
    # Overload: a request that waited longer than this for its commit is refused (503).
    queue_budget_seconds: float = 0.4
    # Requests one API process works on at once; more are refused at once (503). A group
    # commit takes what arrived during the previous one, so its fixed cost (some sixteen
    # statements) is shared by more requests when more are in flight; the queue budget,
    # not this cap, bounds how long one waits. At twice the maximum on two cores (one
    # worker), measured: 128 accepted 984/s (the cap, not the CPU, was the limit: every
    # accepted request also waited for the loop's turns spent refusing), 192 1,145/s with
    # a p99 of 426 ms, 256 1,141/s (519 ms), 512 1,101/s (820 ms).
    max_in_flight: int = 192
    # Writer threads of the write path (services/writes/group.py), each with a group in
    # flight (0: one).
    writers: int = 0
    # The shortest time between two groups of a writer thread (services/writes/group.py).
    group_pace_seconds: float = 0.015
    # `vigie serve` commits in a writer process of its own beside the API workers
    # (services/writes/remote.py); the workers reach it at this socket, which it sets.
    writer_process: bool = True
    writer_socket: str = ""
    # The creating POSTs served by routes compiled from the contract (services/hot_routes.py);
    # off, connexion serves every request (the differential test compares the two).
    hot_routes: bool = True
    # How the hub's own services reach the cluster (an external one: TLS, mTLS or
    # SASL/OAUTHBEARER with client-credentials tokens from the cluster's identity provider).
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    kafka_oauth_token_url: str = ""
    kafka_oauth_client_id: str = ""
    kafka_oauth_client_secret: str = ""
    kafka_oauth_scope: str = ""
    # How long Kafka keeps messages (they are about people: the hub's database is the
    # record; topics only carry them). 30 days by default.
    topic_retention_ms: int = 30 * 86400 * 1000
    # Signing keys from a mounted secret instead of the database ("" = database).
    signing_keys_file: str = ""
    # The verifiable log: its name (the checkpoints' origin line) and its checkpoint keys
    # from a mounted secret instead of the database ("" = database).
    log_origin: str = ""
    log_keys_file: str = ""
    # AES keys sealing the secrets the hub keeps usable (webhook secrets), from a mounted
    # secret ("" = a file generated in the state directory, development only).
    data_keys_file: str = ""
    # An external identity provider trusted for API tokens besides the hub's own keys.
    external_jwks_url: str = ""
    external_issuer: str = ""
    # Documents (services/documents): where their encrypted bytes are kept ("files" under
    # the state directory, or "s3"), the largest upload, the types accepted (each checked
    # by content), and how long an upload no item references is kept.
    document_store: str = "files"
    document_s3_endpoint: str = ""
    document_s3_region: str = ""
    document_s3_bucket: str = "vigie-documents"
    document_s3_prefix: str = "documents/"
    document_s3_access_key: str = ""
    document_s3_secret_key: str = ""
    document_max_bytes: int = 20 * 1024 * 1024
    document_types: tuple[str, ...] = ("application/pdf", "image/png", "image/jpeg")
    document_expiry: timedelta = timedelta(days=1)
    # The hub's seal for the items' PDF records: a key and its certificate (PEM), with the
    # chain up to a qualified trust service in production ("" = generated in the state
    # directory, development only).
    seal_key_file: str = ""
    seal_cert_file: str = ""
    seal_chain_file: str = ""
    # The console (services/console): the OpenID Connect provider agents sign in with
    # (its issuer; the client's secret from a file, generated in the state directory for
    # development), the key signing its session cookies (likewise), how long a session
    # may stay idle, whether cookies need HTTPS ("" = when the public URL is https), and
    # the local identity provider's port (`vigie idp start`, development and tests).
    console_enabled: bool = True
    # Where people reach the console (its own host in production; "" = the public URL).
    console_url: str = ""
    console_oidc_issuer: str = ""
    console_oidc_client_id: str = "vigie-console"
    console_oidc_client_secret_file: str = ""
    console_session_key_file: str = ""
    console_idle_seconds: int = 15 * 60
    console_secure_cookies: bool = False
    idp_port: int = 8180
    # The French State's design system (DSFR) as installed from npm (`make console-assets`);
    # the console's own plain CSS serves alone without it.
    console_dsfr_dir: str = ""
    # E-mail notices to agents (an SMTP relay; no host = no mail), and the sender address.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password_file: str = ""
    mail_from: str = "vigie@localhost"
    # OpenTelemetry traces, from the API through the database and the outbox to Kafka and
    # the webhooks, exported over OTLP/HTTP to this collector (e.g.
    # http://otel-collector:4318; "" = no traces are recorded), named after this service.
    otlp_endpoint: str = ""
    otel_service_name: str = "vigie"
    # The statistics (GET /v1/statistics) suppress every count below this threshold
    # (k-anonymity), so that no person can be singled out.
    statistics_threshold: int = 5
    # Deadline overrides: VIGIE_DEADLINE_<EXCHANGE>_<STEP>=<n>s|m|h|d.
    deadlines: dict[str, str] = field(default_factory=dict)

    def deadline(self, name: str, default: timedelta | None) -> timedelta | None:
        """A configured deadline, e.g. deadline("order-notifications.acknowledgement", ...)."""
        raw = self.deadlines.get(name.upper().replace("-", "_").replace(".", "_"))
        return default if raw is None else parse_duration(raw)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        state_dir = Path(env.get("VIGIE_STATE_DIR", ROOT / ".vigie"))
        kafka_port = _int(env, "VIGIE_KAFKA_PORT", 9092)
        public_url = env.get("VIGIE_PUBLIC_URL", "http://127.0.0.1:8080").rstrip("/")
        ttl = _int(env, "VIGIE_TOKEN_TTL_SECONDS", 900)
        if not 0 < ttl <= 900:
            raise ValueError("VIGIE_TOKEN_TTL_SECONDS must be between 1 and 900 (15 minutes)")
        budget = float(env.get("VIGIE_QUEUE_BUDGET_SECONDS", 0.4))
        pace = float(env.get("VIGIE_GROUP_PACE_SECONDS", 0.015))
        if not 0 <= pace < budget:
            # A write may wait a pace for its group: one at least as long as the budget
            # would have every write of a busy writer refused as overdue.
            raise ValueError("VIGIE_GROUP_PACE_SECONDS must be at least 0 and shorter than "
                             "VIGIE_QUEUE_BUDGET_SECONDS")
        if bool(env.get("VIGIE_EXTERNAL_JWKS_URL")) != bool(env.get("VIGIE_EXTERNAL_ISSUER")):
            raise ValueError("an external identity provider needs both "
                             "VIGIE_EXTERNAL_JWKS_URL and VIGIE_EXTERNAL_ISSUER")
        return cls(
            state_dir=state_dir,
            database_url=env.get("VIGIE_DATABASE_URL", f"sqlite:///{state_dir / 'vigie.db'}"),
            kafka_bootstrap=env.get("VIGIE_KAFKA_BOOTSTRAP", f"127.0.0.1:{kafka_port}"),
            kafka_port=kafka_port,
            kafka_controller_port=_int(env, "VIGIE_KAFKA_CONTROLLER_PORT", kafka_port + 1),
            kafka_external_port=_int(env, "VIGIE_KAFKA_EXTERNAL_PORT", kafka_port + 2),
            kafka_external_bootstrap=env.get(
                "VIGIE_KAFKA_EXTERNAL_BOOTSTRAP",
                f"127.0.0.1:{_int(env, 'VIGIE_KAFKA_EXTERNAL_PORT', kafka_port + 2)}"),
            kafka_external_protocol=env.get("VIGIE_KAFKA_EXTERNAL_PROTOCOL", "SASL_PLAINTEXT"),
            kafka_audience=env.get("VIGIE_KAFKA_AUDIENCE", "vigie-kafka"),
            kafka_jwks_file=env.get("VIGIE_KAFKA_JWKS_FILE",
                                    str(state_dir / "kafka" / "jwks.json")),
            topic_prefix=env.get("VIGIE_TOPIC_PREFIX", "vigie."),
            topic_partitions=_int(env, "VIGIE_TOPIC_PARTITIONS", 6),
            topic_replication=_int(env, "VIGIE_TOPIC_REPLICATION", 1),
            issuer=env.get("VIGIE_ISSUER", public_url),
            audience=env.get("VIGIE_AUDIENCE", "vigie-api"),
            token_ttl_seconds=ttl,
            max_body_bytes=_int(env, "VIGIE_MAX_BODY_BYTES", 256 * 1024),
            public_url=public_url,
            webhook_allow_http=env.get("VIGIE_WEBHOOK_ALLOW_HTTP", "") == "1",
            webhook_allow_private=env.get("VIGIE_WEBHOOK_ALLOW_PRIVATE", "") == "1",
            webhook_max_attempts=_int(env, "VIGIE_WEBHOOK_MAX_ATTEMPTS", 8),
            webhook_backoff_base_seconds=float(env.get("VIGIE_WEBHOOK_BACKOFF_BASE", 5)),
            webhook_backoff_max_seconds=float(env.get("VIGIE_WEBHOOK_BACKOFF_MAX", 900)),
            webhook_timeout_seconds=float(env.get("VIGIE_WEBHOOK_TIMEOUT", 5)),
            webhook_secret_overlap_seconds=_int(env, "VIGIE_WEBHOOK_SECRET_OVERLAP", 86400),
            rate_limit_per_minute=float(env.get("VIGIE_RATE_LIMIT_PER_MINUTE", 1200)),
            rate_limit_burst=_int(env, "VIGIE_RATE_LIMIT_BURST", 200),
            address_rate_limit_per_minute=float(env.get(
                "VIGIE_ADDRESS_RATE_LIMIT_PER_MINUTE", 3000)),
            address_rate_limit_burst=_int(env, "VIGIE_ADDRESS_RATE_LIMIT_BURST", 500),
            token_rate_limit_per_minute=float(env.get("VIGIE_TOKEN_RATE_LIMIT_PER_MINUTE", 20)),
            token_rate_limit_burst=_int(env, "VIGIE_TOKEN_RATE_LIMIT_BURST", 10),
            queue_budget_seconds=budget,
            max_in_flight=_int(env, "VIGIE_MAX_IN_FLIGHT", 192),
            statistics_threshold=max(2, _int(env, "VIGIE_STATISTICS_THRESHOLD", 5)),
            group_pace_seconds=pace,
            writers=_int(env, "VIGIE_WRITERS", 0),
            writer_process=env.get("VIGIE_WRITER_PROCESS", "1") != "0",
            writer_socket=env.get("VIGIE_WRITER_SOCKET", ""),
            hot_routes=env.get("VIGIE_HOT_ROUTES", "1") != "0",
            kafka_security_protocol=env.get("VIGIE_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
            kafka_ssl_cafile=env.get("VIGIE_KAFKA_SSL_CAFILE", ""),
            kafka_ssl_certfile=env.get("VIGIE_KAFKA_SSL_CERTFILE", ""),
            kafka_ssl_keyfile=env.get("VIGIE_KAFKA_SSL_KEYFILE", ""),
            kafka_oauth_token_url=env.get("VIGIE_KAFKA_OAUTH_TOKEN_URL", ""),
            kafka_oauth_client_id=env.get("VIGIE_KAFKA_OAUTH_CLIENT_ID", ""),
            kafka_oauth_client_secret=env.get("VIGIE_KAFKA_OAUTH_CLIENT_SECRET", ""),
            kafka_oauth_scope=env.get("VIGIE_KAFKA_OAUTH_SCOPE", ""),
            topic_retention_ms=_int(env, "VIGIE_TOPIC_RETENTION_MS", 30 * 86400 * 1000),
            signing_keys_file=env.get("VIGIE_SIGNING_KEYS_FILE", ""),
            log_origin=env.get("VIGIE_LOG_ORIGIN", "") or _origin(env.get("VIGIE_ISSUER",
                                                                          public_url)),
            log_keys_file=env.get("VIGIE_LOG_KEYS_FILE", ""),
            data_keys_file=env.get("VIGIE_DATA_KEYS_FILE", ""),
            external_jwks_url=env.get("VIGIE_EXTERNAL_JWKS_URL", ""),
            external_issuer=env.get("VIGIE_EXTERNAL_ISSUER", ""),
            document_store=env.get("VIGIE_DOCUMENT_STORE", "files"),
            document_s3_endpoint=env.get("VIGIE_DOCUMENT_S3_ENDPOINT", ""),
            document_s3_region=env.get("VIGIE_DOCUMENT_S3_REGION", ""),
            document_s3_bucket=env.get("VIGIE_DOCUMENT_S3_BUCKET", "vigie-documents"),
            document_s3_prefix=env.get("VIGIE_DOCUMENT_S3_PREFIX", "documents/"),
            document_s3_access_key=env.get("VIGIE_DOCUMENT_S3_ACCESS_KEY", ""),
            document_s3_secret_key=env.get("VIGIE_DOCUMENT_S3_SECRET_KEY", ""),
            document_max_bytes=_int(env, "VIGIE_DOCUMENT_MAX_BYTES", 20 * 1024 * 1024),
            document_types=tuple(t.strip() for t in env.get(
                "VIGIE_DOCUMENT_TYPES", "application/pdf,image/png,image/jpeg").split(",")
                if t.strip()),
            document_expiry=parse_duration(env.get("VIGIE_DOCUMENT_EXPIRY", "1d")),
            seal_key_file=env.get("VIGIE_SEAL_KEY_FILE", ""),
            seal_cert_file=env.get("VIGIE_SEAL_CERT_FILE", ""),
            seal_chain_file=env.get("VIGIE_SEAL_CHAIN_FILE", ""),
            console_enabled=env.get("VIGIE_CONSOLE", "1") != "0",
            otlp_endpoint=env.get("VIGIE_OTLP_ENDPOINT", "").rstrip("/"),
            otel_service_name=env.get("VIGIE_OTEL_SERVICE_NAME", "vigie"),
            console_url=env.get("VIGIE_CONSOLE_URL", public_url).rstrip("/"),
            console_oidc_issuer=env.get(
                "VIGIE_CONSOLE_OIDC_ISSUER",
                f"http://127.0.0.1:{_int(env, 'VIGIE_IDP_PORT', 8180)}/realms/vigie"),
            console_oidc_client_id=env.get("VIGIE_CONSOLE_OIDC_CLIENT_ID", "vigie-console"),
            console_oidc_client_secret_file=env.get(
                "VIGIE_CONSOLE_OIDC_CLIENT_SECRET_FILE",
                str(state_dir / "console" / "oidc-client-secret")),
            console_session_key_file=env.get("VIGIE_CONSOLE_SESSION_KEY_FILE",
                                             str(state_dir / "console" / "session.key")),
            console_idle_seconds=_int(env, "VIGIE_CONSOLE_IDLE_SECONDS", 15 * 60),
            console_secure_cookies=env.get(
                "VIGIE_CONSOLE_SECURE_COOKIES",
                "1" if env.get("VIGIE_CONSOLE_URL", public_url).startswith("https") else "0")
            == "1",
            idp_port=_int(env, "VIGIE_IDP_PORT", 8180),
            console_dsfr_dir=env.get("VIGIE_CONSOLE_DSFR_DIR", str(
                ROOT / ".vigie" / "tools" / "npm" / "node_modules" / "@gouvfr" / "dsfr" / "dist")),
            smtp_host=env.get("VIGIE_SMTP_HOST", ""),
            smtp_port=_int(env, "VIGIE_SMTP_PORT", 25),
            smtp_starttls=env.get("VIGIE_SMTP_STARTTLS", "") == "1",
            smtp_user=env.get("VIGIE_SMTP_USER", ""),
            smtp_password_file=env.get("VIGIE_SMTP_PASSWORD_FILE", ""),
            mail_from=env.get("VIGIE_MAIL_FROM", "vigie@localhost"),
            deadlines={k.removeprefix("VIGIE_DEADLINE_"): v for k, v in env.items()
                       if k.startswith("VIGIE_DEADLINE_")},
        )


def _origin(issuer: str) -> str:
    """The log's name: the issuer without its scheme, then /log (a C2SP origin line)."""
    return issuer.split("://", 1)[-1].rstrip("/") + "/log"


_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(raw: str) -> timedelta:
    match = _DURATION.match(raw.strip())
    if not match:
        raise ValueError(f"not a duration: {raw!r} (use e.g. 90s, 15m, 24h, 5d)")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])
