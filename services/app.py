"""The application factory: the OpenAPI contract served by connexion's AsyncApp (pure
ASGI: the hot paths await their commit on the event loop instead of holding a thread);
Flask stays where it fits, under the authorization server (authlib)."""

from __future__ import annotations

import logging
from pathlib import Path

from connexion import AsyncApp
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import ProblemException
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.spec import Specification
from connexion.validators import MultiPartFormDataValidator
from flask import Flask
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from . import tracing
from .audit.middleware import AuditMiddleware
from .config import ROOT, Settings
from .creating import Call
from .db import AsyncReads
from .deprecations import deprecation_headers
from .exchanges.registry import EXCHANGES, ExchangeResolver, creating_handler
from .exchanges.service import DuplicateFinder
from .french import FrenchProblems
from .health import DatabaseCollector
from .hot_routes import HotRoutes, compile_routes
from .http import (
    BodySchemas,
    EdgeMiddleware,
    FastJsonifier,
    StrictParameterValidator,
    database_unavailable,
    make_body_validator,
    normalise_problem,
)
from .hub import Hub, HubMiddleware
from .metrics import start_at_zero
from .oauth.forms import TokenFormValidator, TokenRequestRefused, token_request_refused
from .oauth.ratelimit import RateLimiter
from .oauth.security import make_security_handler
from .oauth.server import make_authorization_server
from .oauth.tokens import REASONS, TOKEN_ENDPOINT_REASONS


class _OneBodyNotice(logging.Filter):
    """connexion warns at every request to an operation with several media types (the
    document upload) that it picks the first for parsing: the upload reads its own body,
    so the warning says nothing; it is dropped rather than logged per request."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("this operation accepts multiple content types")


_ONE_BODY_NOTICE = _OneBodyNotice()  # one instance: adding it again changes nothing


def create_app(settings: Settings | None = None, hub: Hub | None = None,
               contract: Path | None = None) -> AsyncApp:
    """The hub's API on `contract` (the repository's openapi/vigie.yaml by default)."""
    settings = settings or Settings.from_env()
    hub = hub or Hub.create(settings)
    if settings.otlp_endpoint and not tracing.enabled():
        tracing.configure(settings.otlp_endpoint, f"{settings.otel_service_name}-api")
    logging.getLogger("connexion.operations.openapi3").addFilter(_ONE_BODY_NOTICE)
    hub.keys.start()
    hub.directory.start()
    hub.log_keys.start()
    hub.writer.catch_up()
    hub.scrape_registry.register(DatabaseCollector(hub.db, settings))
    start_at_zero(EXCHANGES.values(), REASONS + TOKEN_ENDPOINT_REASONS)

    hub.oauth = make_authorization_server(Flask(__name__), hub.db, hub.keys, settings)
    if hub.db.dialect == "postgresql":
        hub.duplicates = DuplicateFinder(AsyncReads(hub.db))
    client_limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    contract = contract or ROOT / "openapi" / "vigie.yaml"
    spec = Specification.load(contract)
    body_schemas = BodySchemas()
    app = AsyncApp(
        __name__,
        specification_dir=contract.parent,
        jsonifier=FastJsonifier(),
        validator_map={"parameter": StrictParameterValidator, "body": MediaTypeDict({
            "*/*json": make_body_validator(settings.max_body_bytes, body_schemas),
            "application/x-www-form-urlencoded": TokenFormValidator,
            "multipart/form-data": MultiPartFormDataValidator,
        })},
        security_map={"oauth2": make_security_handler(hub.verifier, client_limiter)},
    )
    app.add_api(
        contract.name,
        resolver=ExchangeResolver(),
        strict_validation=True,
        validate_responses=False,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/docs"),
    )
    for kinds, handler in ERROR_HANDLERS:
        for kind in kinds:
            app.add_error_handler(kind, handler)
    # Outermost: a problem answered in French to whoever prefers it, wherever it arose.
    app.add_middleware(FrenchProblems, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(AuditMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION,
                       writer=hub.writer,
                       legal_keys=frozenset(EXCHANGES))
    app.add_middleware(EdgeMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION,
                       max_body_bytes=settings.max_body_bytes,
                       max_in_flight=settings.max_in_flight,
                       body_limits={"/v1/documents": settings.document_max_bytes},
                       deprecations=deprecation_headers(spec),
                       address_limiter=RateLimiter(settings.address_rate_limit_per_minute,
                                                   settings.address_rate_limit_burst))
    app.add_middleware(HubMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION, hub=hub)
    if settings.console_enabled:
        # The console for people (services/console), beside the API it acts through.
        from .console.app import ConsoleMount, create_console

        console, gateway = create_console(hub)
        app.add_middleware(ConsoleMount, position=MiddlewarePosition.BEFORE_EXCEPTION,
                           console=console, gateway=gateway)
    if settings.hot_routes:
        # Innermost of these layers: the creating POSTs, compiled from the same contract.
        routes = compile_routes(spec, creating_handler, body_schemas.of)
        app.add_middleware(HotRoutes, position=MiddlewarePosition.BEFORE_EXCEPTION,
                           routes=routes, verifier=hub.verifier, limiter=client_limiter,
                           call=Call, error_handlers=ERROR_HANDLERS)
    return app


# How errors are answered, by connexion and by the hot routes alike.
ERROR_HANDLERS = [((ProblemException, HTTPException), normalise_problem),
                  ((TokenRequestRefused,), token_request_refused),
                  ((OperationalError, InterfaceError, PoolTimeout), database_unavailable)]
