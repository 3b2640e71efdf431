"""Rate limits per client: 429 with Retry-After, other clients unaffected."""

from __future__ import annotations

import dataclasses

from services.app import create_app
from services.config import Settings
from services.oauth.ratelimit import RateLimiter


def test_bucket_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert limiter.take("a") == 0 and limiter.take("a") == 0
    assert limiter.take("a") == 1.0  # one token a second
    assert limiter.take("b") == 0
    now[0] += 1.0
    assert limiter.take("a") == 0


def test_the_api_answers_429_with_retry_after(stack):
    strict = Settings.from_env({"VIGIE_DATABASE_URL": stack.settings.database_url,
                                "VIGIE_KAFKA_JWKS_FILE": "", "VIGIE_RATE_LIMIT_PER_MINUTE": "6",
                                "VIGIE_RATE_LIMIT_BURST": "3"})
    hub = dataclasses.replace(stack.hub, settings=strict)
    http = create_app(strict, hub).test_client(base_url="http://127.0.0.1")
    court = {"Authorization": f"Bearer {stack.token('tj-paris')}"}
    answers = [http.get("/v1/information-requests", headers=court) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    other = {"Authorization": f"Bearer {stack.token('tj-lyon')}"}
    assert http.get("/v1/information-requests", headers=other).status_code == 200


def _strict_app(stack, **env):
    settings = Settings.from_env({"VIGIE_DATABASE_URL": stack.settings.database_url,
                                  "VIGIE_KAFKA_JWKS_FILE": "", **env})
    hub = dataclasses.replace(stack.hub, settings=settings)
    return create_app(settings, hub).test_client(base_url="http://127.0.0.1")


def test_one_address_is_limited_before_any_token_check(stack):
    http = _strict_app(stack, VIGIE_ADDRESS_RATE_LIMIT_PER_MINUTE="6",
                       VIGIE_ADDRESS_RATE_LIMIT_BURST="3")
    answers = [http.get("/v1/information-requests").status_code for _ in range(5)]
    assert answers == [401, 401, 401, 429, 429]
    refused = http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert http.get("/healthz").status_code == 200  # not an API call


def test_logins_are_limited_per_client_id_before_the_secret_check(stack):
    http = _strict_app(stack, VIGIE_TOKEN_RATE_LIMIT_PER_MINUTE="6",
                       VIGIE_TOKEN_RATE_LIMIT_BURST="2")
    c = stack.creds["tj-paris"]
    wrong = {"grant_type": "client_credentials", "client_id": c["client_id"],
             "client_secret": "guess"}
    assert [http.post("/oauth/token", data=wrong).status_code for _ in range(3)] == \
        [401, 401, 429]
    # The limit is per client id (given in the form or in Basic): another one still logs in.
    other = stack.creds["tj-lyon"]
    assert http.post("/oauth/token", data={"grant_type": "client_credentials"},
                     auth=(other["client_id"], other["client_secret"])).status_code == 200


def test_unknown_and_known_client_ids_get_the_same_answer(stack):
    c = stack.creds["tj-paris"]
    answers = []
    for client_id in (c["client_id"], "tj-paris-does-not-exist"):
        resp = stack.http.post("/oauth/token", data={
            "grant_type": "client_credentials", "client_id": client_id,
            "client_secret": "wrong"})
        answers.append((resp.status_code, resp.json()))
    assert answers[0] == answers[1] and answers[0][0] == 401


def test_a_flood_without_tokens_is_audited_in_aggregate(stack):
    from sqlalchemy import func, select

    from services.audit.models import AuditEntry

    def rows() -> int:
        with stack.hub.db.sessions() as session:
            return session.scalar(select(func.count()).select_from(AuditEntry))

    http = _strict_app(stack)
    http.get("/v1/feed")  # the first refusal of its kind in the window: audited as itself
    before = rows()
    for _ in range(50):
        assert http.get("/v1/feed").status_code == 401
    assert rows() - before < 5, "one audit row per anonymous refusal"


def test_aggregated_refusals_are_written_when_the_window_closes(stack):
    import asyncio

    from sqlalchemy import select

    from services.audit.middleware import AnonymousRefusals
    from services.audit.models import AuditEntry
    from services.audit.service import Event
    from services.db import utcnow

    refusals = AnonymousRefusals(stack.hub.writer, window_seconds=0.2)
    action = f"GET feed.read-{utcnow().timestamp()}"

    async def flood():
        event = Event(at=utcnow(), client_id="anonymous", org_id="-", action=action,
                      object="/v1/feed", legal_basis="x", outcome=401)
        absorbed = [refusals.absorb(event) for _ in range(10)]
        await asyncio.sleep(0.6)
        return absorbed

    assert asyncio.run(flood()) == [False] + [True] * 9
    with stack.hub.db.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == f"{action} ×9")).one()
    assert entry.outcome == 401 and entry.object.startswith("9 more refusals")


def test_refusals_at_capacity_are_answered_at_once_and_audited_in_aggregate(stack):
    """A process at capacity answers 503 with Retry-After before reading any token, and
    a flood of them adds one audit entry per route and window, not one per request (the
    writer must not commit as many refusals as submissions)."""
    from sqlalchemy import func, select

    from services.audit.models import AuditEntry

    full = create_app(dataclasses.replace(stack.settings, max_in_flight=0))
    client = full.test_client(base_url="http://127.0.0.1")

    def entries() -> int:
        with stack.hub.db.sessions() as session:
            return session.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.outcome == 503, AuditEntry.client_id == "anonymous"))

    before = entries()
    answers = [client.get("/v1/feed", headers={"Authorization": f"Bearer {stack.token('cnop')}"})
               for _ in range(5)]
    assert {a.status_code for a in answers} == {503}
    assert all(a.headers["retry-after"] == "1" for a in answers)
    assert answers[0].headers["content-type"] == "application/problem+json"
    # The first of the window as itself; the four others wait for its close, counted.
    assert entries() - before == 1
