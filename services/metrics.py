"""Prometheus metrics. Labels are bounded: routes, exchanges, topics, outcomes — never ids."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "vigie_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "vigie_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SUBMISSIONS = Counter(
    "vigie_submissions_total", "Submissions and lifecycle steps by exchange and outcome",
    ["exchange", "action", "outcome"])
AUTH_FAILURES = Counter(
    "vigie_auth_failures_total",
    "Refused credentials by reason: access tokens on the API, client logins at the token "
    "endpoint (invalid_client, invalid_scope...)", ["reason"])
HOT_ROUTES = Counter(
    "vigie_hot_route_requests_total",
    "Creating POSTs that matched a route compiled from the contract: served there, or "
    "passed on to connexion (any request the contract refuses, answered there)", ["outcome"])
RATE_LIMITED = Counter(
    "vigie_rate_limited_total", "Requests refused by a client's rate limit")
TOKENS_ISSUED = Counter(
    "vigie_tokens_issued_total", "Access tokens issued", ["org_type"])
MESSAGES_PRODUCED = Counter(
    "vigie_messages_produced_total", "Feed entries relayed to the recipients' Kafka topics",
    ["topic"])
PRODUCE_FAILURES = Counter(
    "vigie_produce_failures_total", "Outbox relay batches the broker refused")
DELIVERIES = Counter(
    "vigie_deliveries_total", "Feed items delivered, by channel and outcome",
    ["channel", "outcome"])
WEBHOOK_ATTEMPTS = Counter(
    "vigie_webhook_attempts_total", "Webhook POSTs, by outcome (delivered, retry, dead)",
    ["outcome"])
RELAY_LEADER = Gauge(
    "vigie_relay_leader", "Whether this outbox relay publishes (1) or stands by (0)")
DELIVERY_LATENCY = Histogram(
    "vigie_delivery_latency_seconds",
    "Request received to committed in the recipient's feed (the REST feed; the Kafka topic "
    "follows through the outbox: vigie_outbox_oldest_age_seconds)",
    ["exchange", "lane"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
STEP_SECONDS = Histogram(
    "vigie_step_seconds",
    "Submission to a lifecycle step (acknowledgement, answer, decision, execution...)",
    ["exchange", "action"],
    buckets=(1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 5 * 86400,
             7 * 86400, 30 * 86400))


GROUP_SIZE = Histogram(
    "vigie_write_group_size", "Requests committed together in one transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
COMMIT_SECONDS = Histogram(
    "vigie_write_commit_seconds", "Time to commit one group (the write path's transaction)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
OVERLOAD_REFUSALS = Counter(
    "vigie_overload_refusals_total",
    "Requests refused at once (503 with Retry-After) because the hub is at capacity, by where",
    ["stage"])
DOCUMENT_UPLOADS = Counter(
    "vigie_document_uploads_total", "Documents accepted, by media type", ["media_type"])
DOCUMENT_UPLOADED_BYTES = Counter(
    "vigie_document_uploaded_bytes_total", "Bytes of the documents accepted")
DOCUMENT_REFUSALS = Counter(
    "vigie_document_refusals_total",
    "Uploads refused, by reason (size, empty, type, malformed, encrypted, active_content)",
    ["reason"])
DOCUMENT_DOWNLOADS = Counter(
    "vigie_document_downloads_total", "Documents served, by who fetched them",
    ["party"])
DOCUMENT_REASONS = ("size", "empty", "type", "malformed", "encrypted", "active_content")
CONSOLE_SIGN_INS = Counter(
    "vigie_console_sign_ins_total",
    "Sign-ins to the console, by outcome (signed_in, unknown_agent, refused)", ["outcome"])
CONSOLE_ACTIONS = Counter(
    "vigie_console_actions_total",
    "Submissions and steps sent from the console, by outcome (sent, refused, drafted)",
    ["outcome"])
AGENT_NOTICES = Counter(
    "vigie_agent_notices_total", "E-mail notices to agents, by outcome (sent, failed)",
    ["outcome"])


def console_at_zero() -> None:
    """The console's series exist from the start (a dashboard shows 0, not 'no data')."""
    for outcome in ("signed_in", "unknown_agent", "refused"):
        CONSOLE_SIGN_INS.labels(outcome)
    for outcome in ("sent", "refused", "drafted"):
        CONSOLE_ACTIONS.labels(outcome)


def start_at_zero(exchanges, auth_reasons) -> None:
    """Known series exist from the start at zero — every exchange's submissions and steps,
    accepted and refused, every reason to refuse credentials, every overload refusal —
    so that dashboards and rate() see the first increment."""
    for stage in ("in_flight", "handler_queue", "commit_queue"):
        OVERLOAD_REFUSALS.labels(stage)
    for outcome in ("served", "passed"):
        HOT_ROUTES.labels(outcome)
    for reason in DOCUMENT_REASONS:
        DOCUMENT_REFUSALS.labels(reason)
    for reason in auth_reasons:
        AUTH_FAILURES.labels(reason)
    for exchange in exchanges:
        for action in ("submit", *(t.action for t in exchange.transitions)):
            for outcome in ("accepted", "refused"):
                SUBMISSIONS.labels(exchange.name, action, outcome)
LOG_CONSISTENT = Gauge(
    "vigie_log_consistent",
    "The hub's own witness: 1 while every checkpoint it saw extends the one before, 0 once "
    "one did not (a fork, a rollback, a bad signature)")
LOG_SIZE = Gauge("vigie_log_size", "Leaves in the latest checkpoint the witness accepted")
LOG_CHECKPOINT_TIME = Gauge(
    "vigie_log_checkpoint_timestamp_seconds", "Time of the latest checkpoint witnessed")
LOG_WITNESS_RUNS = Counter(
    "vigie_log_witness_checks_total", "Checks of the latest checkpoint by the hub's witness",
    ["outcome"])
TOPIC_ERASURES_PENDING = Gauge(
    "vigie_topic_erasures_pending",
    "Erased items whose records are still on a recipient's topic (unread by its groups)")
TOPIC_ERASURE_OLDEST = Gauge(
    "vigie_topic_erasure_oldest_seconds",
    "Age of the oldest erased item whose records are still on a recipient's topic")
TOPIC_ERASURES = Counter(
    "vigie_topic_erasures_total",
    "Erased items' records gone from the recipients' topics, by how (deleted, expired)",
    ["outcome"])
