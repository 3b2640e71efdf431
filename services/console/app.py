"""The console's application factory: a Flask app (server-rendered, Jinja) served by the
API's processes under /console, signing people in with OpenID Connect (authlib).

Sessions are signed cookies (HttpOnly, SameSite=Lax, Secure over HTTPS, path /console)
holding who signed in and when they were last active: past the idle limit the session is
over. Every form carries the session's CSRF token, and a POST from another origin is
refused."""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from a2wsgi import WSGIMiddleware
from authlib.integrations.flask_client import OAuth
from flask import Flask, abort, g, render_template, request, session
from starlette.types import ASGIApp, Receive, Scope, Send

from ..http import request_id
from ..hub import Hub
from ..metrics import console_at_zero
from ..organisations.models import Organisation
from . import agents
from .gateway import Gateway, Person

PREFIX = "/console"
MAX_PURPOSES = 20         # items whose stated purpose a session remembers
ASSETS = Path(__file__).parent / "static"


def create_console(hub: Hub) -> tuple[Flask, Gateway]:
    settings = hub.settings
    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=_secret(settings.console_session_key_file),
        SESSION_COOKIE_NAME="vigie_console", SESSION_COOKIE_PATH=PREFIX,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.console_secure_cookies,
        MAX_CONTENT_LENGTH=256 * 1024, TEMPLATES_AUTO_RELOAD=False,
    )
    gateway = Gateway(hub)
    console_at_zero()
    app.extensions["vigie"] = (hub, gateway)
    oauth = OAuth(app)
    oauth.register(
        "idp", client_id=settings.console_oidc_client_id,
        client_secret=_secret(settings.console_oidc_client_secret_file),
        server_metadata_url=(settings.console_oidc_issuer.rstrip("/")
                             + "/.well-known/openid-configuration"),
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256",
                       "timeout": 10})
    app.extensions["vigie_oidc"] = oauth.idp

    from .views import console as blueprint
    app.register_blueprint(blueprint, url_prefix=PREFIX)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.autoescape = True

    @app.before_request
    def _signed_in() -> Any:
        g.person = None
        g.hub, g.gateway = hub, gateway
        if request.method == "POST":
            _check_origin(settings.console_url)
            if request.endpoint not in ("console.static",):
                _check_csrf()
        sub = session.get("sub")
        if sub is None:
            return None
        if time.time() - session.get("seen", 0) > settings.console_idle_seconds:
            session.clear()
            session["notice"] = "Votre session a expiré après une période d'inactivité."
            return None
        with hub.db.sessions() as db:
            agent = agents.active(db, sub)
            org = db.get(Organisation, agent.org_id) if agent else None
            if agent is None or org is None or (
                    agent.signed_out_at is not None
                    and session.get("since", 0) <= agent.signed_out_at.timestamp()):
                session.clear()
                return None
            g.person = Person.of(agent, org.type, bool(session.get("mfa")))
            g.organisation = org.name
        session["seen"] = int(time.time())
        return None

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
            f"form-action 'self' {_origin(settings.console_oidc_issuer)}")
        return response

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(405)
    @app.errorhandler(413)
    @app.errorhandler(500)
    def _error(error):
        return render_template("console/error.html", status=error.code,
                               message=_MESSAGES.get(error.code, error.description)), \
            error.code

    return app, gateway


_MESSAGES = {
    400: "La demande n'a pas pu être traitée (jeton de sécurité absent ou invalide : "
         "rechargez la page et recommencez).",
    403: "Vos droits ne permettent pas cette action.",
    404: "Cette page n'existe pas, ou ce dossier ne vous est pas accessible.",
    405: "Méthode non permise.",
    413: "Le formulaire envoyé est trop volumineux.",
    500: "Une erreur interne est survenue ; rien n'a été transmis en votre nom si "
         "l'envoi n'est pas confirmé. Les exploitants sont alertés.",
}


def _secret(path: str) -> str:
    return agents.ensure_secret(Path(path))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400)


def _check_origin(console_url: str) -> None:
    """A form posted from another site is refused even with a valid cookie."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin != _origin(console_url) and \
            origin != _origin(request.host_url):
        abort(400)


def sign_in(person_claims: dict[str, Any], id_token: str, hub: Hub) -> Person | None:
    """Open a session for the agent the IdP authenticated, if the registry knows them."""
    with hub.db.sessions() as db:
        agent = agents.active(db, str(person_claims.get("sub", "")))
        org = db.get(Organisation, agent.org_id) if agent else None
        if agent is None or org is None:
            return None
        mfa = "otp" in (person_claims.get("amr") or []) or \
            "mfa" in (person_claims.get("amr") or [])
        person = Person.of(agent, org.type, mfa)
    session.clear()
    session.update(sub=person.sub, mfa=mfa, seen=int(time.time()), since=time.time(),
                   csrf=secrets.token_urlsafe(24), id_token=id_token, purposes={})
    return person


def end_session_url(issuer_metadata: dict, id_token: str | None, back: str) -> str:
    endpoint = issuer_metadata.get("end_session_endpoint")
    if not endpoint:
        return back
    params = {"post_logout_redirect_uri": back}
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}?{urlencode(params)}"


def remember_purpose(item_id: str, purpose: str) -> None:
    purposes = dict(session.get("purposes") or {})
    purposes[item_id] = purpose
    while len(purposes) > MAX_PURPOSES:
        purposes.pop(next(iter(purposes)))
    session["purposes"] = purposes


def stated_purpose(item_id: str) -> str | None:
    return (session.get("purposes") or {}).get(item_id)


class ConsoleMount:
    """ASGI middleware: /console goes to the console's Flask app (in a2wsgi's threads);
    everything else goes on. It lends the console the event loop its actions run on."""

    def __init__(self, app: ASGIApp, console: Flask, gateway: Gateway):
        self.app = app
        self.console = WSGIMiddleware(console, workers=8)
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            # The loop the API serves on (one per process; a test client's may change).
            self.gateway.loop = asyncio.get_running_loop()
            if path == PREFIX:
                await _redirect(send, PREFIX + "/")
                return
            # The request's id as the hub settled it (the caller's own when valid), for
            # the audit entries of the actions the page takes.
            rid = request_id(scope)
            if rid is not None:
                scope = {**scope, "headers": [
                    *(h for h in scope.get("headers") or () if h[0] != b"x-request-id"),
                    (b"x-request-id", rid.encode())]}
            await self.console(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _redirect(send: Send, location: str) -> None:
    await send({"type": "http.response.start", "status": 308,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})

