"""Every exchange the hub carries, and the resolver that binds OpenAPI operations
`<exchange>.<verb>` to the shared handlers."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

from connexion.resolver import Resolver
from connexion.utils import get_function_from_name

from ..content_notices.rules import EXCHANGE as CONTENT_NOTICES
from ..information_requests.rules import EXCHANGE as INFORMATION_REQUESTS
from ..offence_reports.rules import EXCHANGE as OFFENCE_REPORTS
from ..order_notifications.rules import EXCHANGE as ORDER_NOTIFICATIONS
from ..order_reports.rules import EXCHANGE as ORDER_REPORTS
from ..records import views as records
from ..signalements.rules import EXCHANGE as SIGNALEMENTS
from ..suspension_orders.rules import EXCHANGE as SUSPENSION_ORDERS
from . import views
from .definition import Exchange

EXCHANGES: dict[str, Exchange] = {e.name: e for e in (
    INFORMATION_REQUESTS, ORDER_NOTIFICATIONS, CONTENT_NOTICES, SUSPENSION_ORDERS,
    SIGNALEMENTS, OFFENCE_REPORTS, ORDER_REPORTS)}


_OPERATION = re.compile(r"^(?P<exchange>[a-z-]+)\.(?P<verb>[a-z][a-z-]*)$")


def creating_handler(operation_id: str) -> Callable[..., Awaitable[Any]] | None:
    """The creating POST behind an operation (`<exchange>.submit` or a lifecycle step), as
    the compiled hot routes call it: `handler(call, path_parameters, body)`."""
    match = _OPERATION.match(operation_id)
    if not match or match["exchange"] not in EXCHANGES:
        return None
    exchange, verb = EXCHANGES[match["exchange"]], match["verb"]
    if verb == "submit":
        return lambda call, _params, body: views.submit_call(call, exchange, body)
    if not any(t.action == verb for t in exchange.transitions):
        return None
    return lambda call, params, body: views.advance_call(call, exchange, verb, params["id"],
                                                         body)


class ExchangeResolver(Resolver):
    """Operation ids name the domain, never the module: `<exchange>.<verb>` binds the
    shared handlers to an exchange; any other `<domain>.<name>` (dashes for underscores)
    is `services.<domain>.views.<name>`, or `services.<domain>.<name>` for modules that
    are not views (health). Clients generated from the contract are named after them."""

    def resolve_function_from_operation_id(self, operation_id: str):
        match = _OPERATION.match(operation_id)
        if match and match["exchange"] in EXCHANGES:
            exchange = EXCHANGES[match["exchange"]]
            verb = match["verb"]
            generic = {"submit": views.submit, "list": views.list_items, "read": views.read,
                       "evidence": views.evidence_of, "bundle": views.bundle_of,
                       "record": records.record}
            if verb in generic:
                return _bind(generic[verb], exchange=exchange)
            if any(t.action == verb for t in exchange.transitions):
                return _bind(views.advance, exchange=exchange, action=verb)
        domain, _, name = operation_id.replace("-", "_").partition(".")
        try:
            return get_function_from_name(f"services.{domain}.views.{name}")
        except (ImportError, AttributeError, ValueError):
            return get_function_from_name(f"services.{domain}.{name}")


def _bind(fn, **bound):
    bound_fn = functools.partial(fn, **bound)
    functools.update_wrapper(bound_fn, fn)
    # connexion reads the signature to decide which arguments to pass.
    sig = inspect.signature(fn)
    bound_fn.__signature__ = sig.replace(
        parameters=[p for name, p in sig.parameters.items() if name not in bound])
    return bound_fn
