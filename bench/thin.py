"""The thin baseline: an endpoint that only checks the token (the hub's own verifier and
keys) and produces the envelope to Kafka, answering once the broker acknowledged it.

No contract validation, no database, no audit, no evidence, no idempotency: the
distance between it and the hub is the price of those guarantees.

    uvicorn --factory bench.thin:create_app --workers N
"""

from __future__ import annotations

import asyncio
import json
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from schemas.envelope import Envelope
from services.config import Settings
from services.db import Database, utcnow
from services.messaging.outbox import make_producer
from services.messaging.topics import feed_topic
from services.oauth.keys import KeyRing
from services.oauth.tokens import InvalidToken, TokenVerifier


def create_app() -> Starlette:
    settings = Settings.from_env()
    keys = KeyRing(Database(settings.database_url), settings.token_ttl_seconds + 60)
    keys.start()
    verifier = TokenVerifier(keys, settings.issuer, settings.audience)
    producer = make_producer(settings, client_id="vigie-thin")

    async def submit(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        try:
            claims = verifier.verify(auth.removeprefix("Bearer "))
        except InvalidToken as exc:
            return JSONResponse({"detail": exc.detail}, status_code=401)
        body = json.loads(await request.body())
        item_id = str(uuid.uuid4())
        exchange = request.path_params["exchange"]
        envelope = Envelope(id=str(uuid.uuid4()), type=f"fr.gouv.vigie.{exchange}.submitted",
                            source=f"/v1/{exchange}", subject=item_id,
                            senderorg=claims["org"],
                            # Order notifications are routed by profession: the demo's order.
                            recipientorg=body.get("recipient", "cnop"),
                            correlationid=item_id, time=utcnow(), data=body)
        future = producer.send(feed_topic(settings, envelope.recipientorg), key=item_id.encode(),
                               value=envelope.to_json())
        await asyncio.get_running_loop().run_in_executor(None, future.get, 10)
        return JSONResponse({"id": item_id, "recipient": envelope.recipientorg},
                            status_code=201)

    return Starlette(routes=[Route("/v1/{exchange}", submit, methods=["POST"])])
