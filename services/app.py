"""The application factory: the OpenAPI contract served by connexion's AsyncApp (pure
ASGI: the hot paths await their commit on the event loop instead of holding a thread);
Flask stays where it fits, under the authorization server (authlib)."""

from __future__ import annotations

from connexion import AsyncApp
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import ProblemException
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.validators import FormDataValidator, MultiPartFormDataValidator
from flask import Flask
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from .audit.middleware import AuditMiddleware
from .config import ROOT, Settings
from .exchanges.registry import EXCHANGES, ExchangeResolver
from .health import DatabaseCollector
from .http import (
    EdgeMiddleware,
    FastJsonifier,
    StrictParameterValidator,
    database_unavailable,
    make_body_validator,
    normalise_problem,
)
from .hub import Hub, HubMiddleware
from .metrics import start_at_zero
from .oauth.ratelimit import RateLimiter
from .oauth.security import make_security_handler
from .oauth.server import make_authorization_server
from .oauth.tokens import REASONS, TOKEN_ENDPOINT_REASONS


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> AsyncApp:
    settings = settings or Settings.from_env()
    hub = hub or Hub.create(settings)
    hub.keys.start()
    hub.directory.start()
    hub.log_keys.start()
    hub.writer.catch_up()
    hub.scrape_registry.register(DatabaseCollector(hub.db, settings))
    start_at_zero(EXCHANGES.values(), REASONS + TOKEN_ENDPOINT_REASONS)

    hub.oauth = make_authorization_server(Flask(__name__), hub.db, hub.keys, settings)
    app = AsyncApp(
        __name__,
        specification_dir=ROOT / "openapi",
        jsonifier=FastJsonifier(),
        validator_map={"parameter": StrictParameterValidator, "body": MediaTypeDict({
            "*/*json": make_body_validator(settings.max_body_bytes),
            "application/x-www-form-urlencoded": FormDataValidator,
            "multipart/form-data": MultiPartFormDataValidator,
        })},
        security_map={"oauth2": make_security_handler(
            hub.verifier, RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst))},
    )
    app.add_api(
        "vigie.yaml",
        resolver=ExchangeResolver(),
        strict_validation=True,
        validate_responses=False,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/docs"),
    )
    app.add_error_handler(ProblemException, normalise_problem)
    app.add_error_handler(HTTPException, normalise_problem)
    for unavailable in (OperationalError, InterfaceError, PoolTimeout):
        app.add_error_handler(unavailable, database_unavailable)
    app.add_middleware(AuditMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION,
                       writer=hub.writer,
                       legal_keys=frozenset(EXCHANGES))
    app.add_middleware(EdgeMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION,
                       max_body_bytes=settings.max_body_bytes,
                       max_in_flight=settings.max_in_flight,
                       address_limiter=RateLimiter(settings.address_rate_limit_per_minute,
                                                   settings.address_rate_limit_burst))
    app.add_middleware(HubMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION, hub=hub)
    return app
