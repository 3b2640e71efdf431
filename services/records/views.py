"""GET /v1/<exchange>/{id}/record.pdf: the item's sealed record, for its parties only."""

from __future__ import annotations

import threading

import anyio
from connexion import context
from starlette.responses import Response

from ..db import utcnow
from ..evidence import service as evidence
from ..exchanges import service
from ..exchanges.definition import Exchange
from ..exchanges.views import check_party
from ..hub import Hub, current_hub
from ..oauth.identity import Caller
from .seal import Sealer

_SEALERS: dict[int, Sealer] = {}
_LOCK = threading.Lock()


def sealer(hub: Hub) -> Sealer:
    """The hub's seal, loaded once per hub."""
    with _LOCK:
        if id(hub) not in _SEALERS:
            _SEALERS[id(hub)] = Sealer(hub.settings)
        return _SEALERS[id(hub)]


async def record(exchange: Exchange, id: str):  # noqa: A002 - the contract's name
    hub = current_hub()
    caller = Caller.from_claims(context.context["token_info"])

    def build() -> bytes:
        # The layout library (fpdf2, Pillow, fontTools) loads with the first record, not
        # with every API process: most never print one.
        from .render import render

        now = utcnow()
        with hub.db.sessions() as session:
            check_party(session, exchange, caller, id)
            _, resource = service.read(session.connection(), exchange, caller, id, now)
            listed = evidence.listing(session, id)
        names = {}
        for org_id in (resource["sender"], resource["recipient"],
                       *(s["by"] for s in resource["steps"])):
            entry = hub.directory.get(org_id)
            names[org_id] = entry.name if entry is not None and entry.name else org_id
        pdf = render(resource, listed, names, hub.settings.issuer, now)
        return sealer(hub).seal(pdf, f"Relevé Vigie de l'élément {id}")

    pdf = await anyio.to_thread.run_sync(build)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="vigie-{exchange.name}-{id}.pdf"',
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})
