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
