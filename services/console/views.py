"""The console's screens. Reads use the exchanges' own services with the agent as the
caller (so an item another organisation holds is as unknown here as in the API: 404);
every action goes through the contract's operation (gateway.py)."""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    stream_with_context,
    url_for,
)

from ..db import utcnow
from ..documents import service as documents
from ..documents import views as document_views
from ..evidence import service as evidence
from ..exchanges import service as items
from ..exchanges.registry import EXCHANGES
from ..metrics import CONSOLE_ACTIONS, CONSOLE_SIGN_INS
from ..oauth.identity import Caller
from ..problems import Problem
from ..statistics import service as statistics_service
from ..statistics import views as statistics_views
from ..verifiable_log.verifier import KeySet, Refused, verify_bundle
from . import operations as ops
from .app import ASSETS, end_session_url, remember_purpose, sign_in, stated_purpose
from .forms import body_from, errors_by_field, fields_of, values_of
from .gateway import Person, as_json, new_key
from .labels import ACTIONS, DIMENSIONS, EXCHANGE_TITLES, PERIODS, PURPOSES, STATUSES

console = Blueprint("console", __name__, template_folder="templates")
SOON = timedelta(days=2)
# Filled in by the console itself, never typed: documents are attached through the API.
HIDDEN = frozenset({"documents"})


def signed_in(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.person is None:
            return redirect(url_for("console.home"))
        return view(*args, **kwargs)

    return wrapper


def caller() -> Caller:
    person: Person = g.person
    return Caller.from_claims(person.claims())


def exchange_or_404(name: str):
    exchange = EXCHANGES.get(name)
    if exchange is None or exchange.read_scope not in g.person.scopes:
        abort(404)
    return exchange


@console.get("/static/<path:name>")
def static(name: str):
    return send_from_directory(ASSETS, name, max_age=3600)


@console.get("/dsfr/<path:name>")
def dsfr(name: str):
    """The DSFR's stylesheet, fonts and icons, when installed."""
    folder = g.hub.settings.console_dsfr_dir
    if not folder or not os.path.isdir(folder):
        abort(404)
    return send_from_directory(folder, name, max_age=86400)


@console.get("/")
def home():
    if g.person is None:
        return render_template("console/login.html", notice=session.pop("notice", None))
    now = utcnow()
    boxes = []
    with g.hub.db.reads() as conn:
        for name, exchange in EXCHANGES.items():
            if exchange.read_scope in g.person.scopes:
                boxes.append((name, EXCHANGE_TITLES.get(name, name),
                              items.counts(conn, exchange, caller(), now, SOON)))
    return render_template("console/home.html", boxes=boxes)


# --- signing in and out ------------------------------------------------------------------

@console.get("/login")
def login():
    oidc = _oidc()
    return oidc.authorize_redirect(g.hub.settings.console_url + "/console/auth/callback")


@console.get("/auth/callback")
def callback():
    oidc = _oidc()
    if "error" in request.args:
        CONSOLE_SIGN_INS.labels("refused").inc()
        return render_template("console/error.html", status=401,
                               message="La connexion a été refusée par le fournisseur "
                                       "d'identité."), 401
    try:
        token = oidc.authorize_access_token()
    except Exception:  # noqa: BLE001 - any failure of the exchange is a refused sign-in
        CONSOLE_SIGN_INS.labels("refused").inc()
        return render_template("console/error.html", status=401,
                               message="La connexion n'a pas pu être vérifiée ; "
                                       "recommencez."), 401
    claims = dict(token.get("userinfo") or {})
    person = sign_in(claims, token.get("id_token", ""), g.hub)
    if person is None:
        CONSOLE_SIGN_INS.labels("unknown_agent").inc()
        return render_template("console/error.html", status=403,
                               message="Votre compte n'est pas enregistré comme agent d'une "
                                       "organisation de Vigie."), 403
    g.person = person
    CONSOLE_SIGN_INS.labels("signed_in").inc()
    g.gateway.consulted(person, "/console/sign-in", None)
    return redirect(url_for("console.home"))


@console.post("/logout")
def logout():
    id_token = session.get("id_token")
    if g.person is not None:
        ops.signed_out(g.hub, g.person)
        g.gateway.consulted(g.person, "/console/sign-out", None)
    session.clear()
    back = g.hub.settings.console_url + "/console/"
    try:
        metadata = _oidc().load_server_metadata()
    except Exception:  # noqa: BLE001 - the IdP unreachable: the hub's session is over anyway
        return redirect(back)
    return redirect(end_session_url(metadata, id_token, back))


def _oidc():
    from flask import current_app

    return current_app.extensions["vigie_oidc"]


# --- boxes and items ---------------------------------------------------------------------

@console.get("/<exchange_name>/")
@signed_in
def box(exchange_name: str):
    exchange = exchange_or_404(exchange_name)
    role = request.args.get("box", "received")
    role = role if role in ("received", "sent") else "received"
    status = request.args.get("status") or None
    deadline = request.args.get("deadline") or ""
    now = utcnow()
    with g.hub.db.reads() as conn:
        rows, _ = items.list_visible(conn, exchange, caller(), role, status,
                                     True if deadline == "overdue" else None, None, 100, now)
        figures = items.counts(conn, exchange, caller(), now, SOON)
    if deadline == "soon":
        rows = [r for r in rows if r["due_at"] and not r["overdue"]
                and utcnow().isoformat() <= r["due_at"] <= (now + SOON).isoformat()]
    statuses = sorted({exchange.initial_state, *(r.state for t in exchange.transitions
                                                 for r in t.results)})
    g.gateway.consulted(g.person, f"/v1/{exchange.name}", None)
    return render_template("console/box.html", exchange=exchange, rows=rows, role=role,
                           status=status, deadline=deadline, figures=figures,
                           statuses=statuses, title=EXCHANGE_TITLES.get(exchange.name),
                           can_submit=exchange.submit_scope in scopes_for_drafting())


def scopes_for_drafting() -> frozenset[str]:
    """What the agent may prepare: a signatory's sending scopes, for a drafter too."""
    from .gateway import scopes_for

    person: Person = g.person
    roles = person.roles | ({"signatory"} if "drafter" in person.roles else set())
    return scopes_for(person.org_type, frozenset(roles))


@console.get("/<exchange_name>/<item_id>")
@signed_in
def item(exchange_name: str, item_id: str):
    exchange = exchange_or_404(exchange_name)
    purpose = stated_purpose(item_id)
    path = f"/v1/{exchange.name}/{item_id}"
    now = utcnow()
    with g.hub.db.reads() as conn:
        try:
            row = items.get_visible(conn, exchange, caller(), item_id)
        except Problem:
            row = None
        # The identities behind a pseudonymised item's pseudonyms: its recipient's, asked
        # for explicitly, under the purpose stated, audited as such.
        identity = (request.args.get("identity") == "1" and row is not None
                    and exchange.pseudonymise is not None
                    and g.person.org_id == row.recipient_org)
        if row is not None and purpose is not None:
            _, resource = items.read(conn, exchange, caller(), item_id, now,
                                     items.Disclosure(purpose, identity), g.hub.box)
            retrieval = (items.retrieval(conn, g.hub.settings, [row.id], now,
                                         g.person.label)
                         if g.person.org_id == row.recipient_org else None)
    # Recorded once the read is over (SQLite: a writer waits for no open read).
    if row is None:
        g.gateway.consulted(g.person, path, None, 404)
        abort(404)
    if purpose is None:
        return render_template("console/purpose.html", exchange=exchange,
                               item_id=item_id, purposes=PURPOSES)
    g.gateway.consulted(g.person, path + ("?identity=true" if identity else ""), purpose)
    if retrieval is not None:
        g.hub.writer.commit(retrieval)
    party = g.person.org_id in (row.sender_org, row.recipient_org)
    records, verified = _evidence(item_id) if party else ([], None)
    forms = _action_forms(exchange, row) if party else []
    return render_template("console/item.html", exchange=exchange, item=resource,
                           records=records, verified=verified, forms=forms,
                           content=as_json(resource["content"]), purpose=purpose,
                           docs=_documents_of(resource),
                           identities=(as_json(resource["identities"])
                                       if resource.get("identities") else None),
                           can_reveal=(exchange.pseudonymise is not None and not identity
                                       and g.person.org_id == row.recipient_org))


def _documents_of(resource: dict[str, Any]) -> list[dict[str, Any]]:
    carried = list(resource["content"].get("documents") or [])
    for step in resource["steps"]:
        carried += step["content"].get("documents") or []
    return carried


def _evidence(item_id: str) -> tuple[list[dict], str | None]:
    """The item's evidence, and whether its bundle verifies against the log's keys."""
    hub = g.hub
    with hub.db.sessions() as db:
        listed = evidence.listing(db, item_id)["evidence"]
        try:
            bundle = evidence.export(db, item_id, hub.settings.log_origin, hub.settings.issuer)
            lines = verify_bundle(bundle, KeySet(bundle["keys"]))
            verified = f"vérifiée : {len(lines)} preuves incluses dans le journal signé"
        except (LookupError, Refused) as refusal:
            verified = f"non vérifiée : {refusal}"
    return listed, verified


def _action_forms(exchange, row) -> list[dict[str, Any]]:
    """The steps the item's state allows this agent's organisation, each a form."""
    person: Person = g.person
    out = []
    for transition in exchange.transitions:
        actor = row.sender_org if transition.actor == "sender" else row.recipient_org
        if actor != person.org_id or row.status not in transition.from_states or \
                transition.scope not in scopes_for_drafting():
            continue
        operation = g.gateway.operation(exchange.name, transition.action)
        out.append({"action": transition.action,
                    "title": ACTIONS.get(transition.action, transition.action),
                    "fields": fields_of(operation.schema, hidden=HIDDEN),
                    "key": new_key(), "can_send": transition.scope in person.scopes})
    return out


@console.post("/<exchange_name>/<item_id>/purpose")
@signed_in
def purpose(exchange_name: str, item_id: str):
    exchange_or_404(exchange_name)
    chosen = request.form.get("purpose", "")
    detail = request.form.get("detail", "").strip()
    if chosen not in PURPOSES or (chosen == "autre" and not detail):
        return render_template("console/purpose.html", exchange=EXCHANGES[exchange_name],
                               item_id=item_id, purposes=PURPOSES,
                               error="Indiquez le motif de la consultation."), 422
    text = PURPOSES[chosen] + (f" : {detail}" if detail else "")
    remember_purpose(item_id, text[:200])
    return redirect(url_for("console.item", exchange_name=exchange_name, item_id=item_id))


@console.post("/<exchange_name>/<item_id>/<action>")
@signed_in
def act(exchange_name: str, item_id: str, action: str):
    exchange = exchange_or_404(exchange_name)
    if not any(t.action == action for t in exchange.transitions):
        abort(404)
    operation = g.gateway.operation(exchange.name, action)
    fields = fields_of(operation.schema, hidden=HIDDEN)
    body = body_from(request.form, fields)
    if request.form.get("intent") == "draft":
        return _save_draft(exchange.name, action, item_id, body)
    outcome = g.gateway.post(g.person, operation, {"id": item_id}, body,
                             request.form.get("key") or new_key(),
                             stated_purpose(item_id))
    CONSOLE_ACTIONS.labels("refused" if outcome.problem else "sent").inc()
    if outcome.problem is not None:
        if outcome.status == 404:
            abort(404)
        return render_template("console/refused.html", exchange=exchange, item_id=item_id,
                               action=action, title=ACTIONS.get(action, action),
                               fields=fields, values=request.form,
                               errors=errors_by_field(outcome.problem),
                               problem=outcome.problem, key=request.form.get("key")), \
            outcome.status
    _mark_draft_sent(request.form.get("draft"))
    session["notice"] = f"« {ACTIONS.get(action, action)} » enregistré et transmis."
    return redirect(url_for("console.item", exchange_name=exchange.name, item_id=item_id))


@console.get("/<exchange_name>/new")
@signed_in
def new(exchange_name: str):
    exchange = exchange_or_404(exchange_name)
    if exchange.submit_scope not in scopes_for_drafting():
        abort(403)
    operation = g.gateway.operation(exchange.name, "submit")
    draft = ops.draft(g.hub, g.person, request.args.get("draft"))
    return render_template("console/new.html", exchange=exchange,
                           title=EXCHANGE_TITLES.get(exchange.name),
                           fields=fields_of(operation.schema, hidden=HIDDEN),
                           values=values_of(json.loads(draft.body)) if draft else {},
                           draft=draft.id if draft else "", errors={}, key=new_key(),
                           can_send=exchange.submit_scope in g.person.scopes)


@console.post("/<exchange_name>/new")
@signed_in
def submit(exchange_name: str):
    exchange = exchange_or_404(exchange_name)
    operation = g.gateway.operation(exchange.name, "submit")
    fields = fields_of(operation.schema, hidden=HIDDEN)
    body = body_from(request.form, fields)
    if request.form.get("intent") == "draft":
        return _save_draft(exchange.name, "submit", None, body)
    outcome = g.gateway.post(g.person, operation, {}, body,
                             request.form.get("key") or new_key())
    CONSOLE_ACTIONS.labels("refused" if outcome.problem else "sent").inc()
    if outcome.problem is not None:
        return render_template("console/new.html", exchange=exchange,
                               title=EXCHANGE_TITLES.get(exchange.name), fields=fields,
                               values=request.form, draft=request.form.get("draft", ""),
                               errors=errors_by_field(outcome.problem),
                               problem=outcome.problem, key=request.form.get("key"),
                               can_send=exchange.submit_scope in g.person.scopes), \
            outcome.status
    _mark_draft_sent(request.form.get("draft"))
    session["notice"] = "Envoi enregistré et transmis."
    return redirect(url_for("console.item", exchange_name=exchange.name,
                            item_id=outcome.resource["id"]))


def _save_draft(exchange: str, action: str, item_id: str | None, body: dict):
    if not ({"drafter", "signatory"} & g.person.roles):
        abort(403)
    draft_id = ops.save_draft(g.hub, g.person, exchange, action, item_id, body)
    CONSOLE_ACTIONS.labels("drafted").inc()
    g.gateway.consulted(g.person, f"/console/drafts/{draft_id}", None, 201)
    session["notice"] = "Brouillon enregistré : un signataire peut le relire et l'envoyer."
    return redirect(url_for("console.drafts"))


def _mark_draft_sent(draft_id: str | None) -> None:
    if draft_id:
        ops.mark_sent(g.hub, g.person, draft_id)


@console.get("/drafts")
@signed_in
def drafts():
    return render_template("console/drafts.html", drafts=ops.drafts(g.hub, g.person),
                           titles=EXCHANGE_TITLES, actions=ACTIONS)


@console.get("/documents/<document_id>")
@signed_in
def document(document_id: str):
    """A document of an item the agent's organisation is a party to (404 otherwise); the
    first download by the party it was sent to is evidence, naming the agent."""
    hub, person = g.hub, g.person
    with hub.db.reads() as conn:
        try:
            access = documents.accessible(conn, person.org_id, document_id)
        except Problem:
            abort(404)
    row = access.document
    if row.destroyed_at is not None:
        return render_template("console/error.html", status=410,
                               message=f"Ce document a été détruit (empreinte sha256 "
                                       f"{row.sha256} conservée)."), 410
    pieces = documents.plaintext(hub.storage, hub.box, row)
    if access.recipient:
        g.gateway.run(lambda: document_views.record_retrieval(hub, access, caller(),
                                                              utcnow()))
    g.gateway.consulted(person, f"/v1/documents/{document_id}", stated_purpose(
        row.item_id or "") if row.item_id else None)
    return Response(stream_with_context(pieces), mimetype=row.media_type, headers={
        "Content-Length": str(row.size), "X-Content-Type-Options": "nosniff",
        "Content-Disposition": document_views.disposition(row)})


@console.route("/preferences", methods=["GET", "POST"])
@signed_in
def preferences():
    if request.method == "POST":
        ops.set_notify(g.hub, g.person, request.form.get("notify") == "on")
        session["notice"] = "Préférences enregistrées."
        return redirect(url_for("console.preferences"))
    return render_template("console/preferences.html",
                           notify=ops.notify_of(g.hub, g.person))


# --- oversight (ARCOM) and operations ----------------------------------------------------

@console.get("/oversight")
@signed_in
def oversight():
    if "oversight:read" not in g.person.scopes:
        abort(404)
    figures = ops.oversight(g.hub)
    g.gateway.consulted(g.person, "/v1/oversight/platforms", None)
    return render_template("console/oversight.html", **figures)


@console.get("/statistics")
@signed_in
def statistics():
    """The statistics of GET /v1/statistics as a table (and its CSV), for the annual
    report: the same query, the same suppression of small counts, audited alike."""
    if "statistics:read" not in g.person.scopes:
        abort(404)
    args = request.args
    errors: list[dict] = []
    result = None
    try:
        query = statistics_views.query_of(
            args.get("since") or None, args.get("until") or None,
            args.getlist("exchange") or None, args.getlist("by") or None,
            args.get("period") or "month")
    except Problem as refused:
        errors = (refused.ext or {}).get("errors", [])
        query = None
    path = "/v1/statistics"
    if query is not None:
        with g.hub.db.reads() as conn:
            result = statistics_service.compute(conn, query,
                                                g.hub.settings.statistics_threshold)
    g.gateway.consulted(g.person, path, None, 422 if errors else 200)
    if result is not None and args.get("format") == "csv":
        return Response(statistics_views.as_csv(result), 200,
                        statistics_views.CSV_HEADERS)
    return render_template("console/statistics.html", result=result, errors=errors,
                           args=args, dimensions=DIMENSIONS,
                           periods=PERIODS)


@console.get("/operations")
@signed_in
def operations():
    if "admin" not in g.person.scopes:
        abort(404)
    g.gateway.consulted(g.person, "/v1/admin/status", None)
    return render_template("console/operations.html", **ops.status(g.hub),
                           new_secret=session.pop("new_secret", None))


@console.post("/operations/dead-letters/<int:delivery_id>/replay")
@signed_in
def replay(delivery_id: str):
    if "admin" not in g.person.scopes:
        abort(404)
    done = ops.replay(g.hub, delivery_id)
    g.gateway.consulted(g.person, f"/v1/admin/dead-letters/{delivery_id}/replay", None,
                        200 if done else 404)
    session["notice"] = "Livraison relancée." if done else "Livraison introuvable."
    return redirect(url_for("console.operations"))


@console.post("/operations/clients")
@signed_in
def client_action():
    if "admin" not in g.person.scopes:
        abort(404)
    verb = request.form.get("verb", "")
    try:
        client_id, secret = ops.client_action(g.hub, verb, request.form.get("org_id", ""),
                                              request.form.get("client_id", ""))
    except ValueError as refused:
        session["notice"] = f"Refusé : {refused}"
        return redirect(url_for("console.operations"))
    g.gateway.consulted(g.person, f"/v1/admin/clients/{client_id}/{verb}", None, 200)
    if secret:
        # Shown once, to the operator who made it; never stored in clear.
        session["new_secret"] = {"client_id": client_id, "secret": secret}
    session["notice"] = f"Client {client_id} : {verb} effectué."
    return redirect(url_for("console.operations"))


@console.app_template_filter("status")
def _status(value: str) -> str:
    return STATUSES.get(value, value)


@console.app_template_filter("paris")
def _paris(value: str | None) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone(ZoneInfo("Europe/Paris")).strftime(
        "%d/%m/%Y %H:%M")


@console.app_context_processor
def _globals() -> dict[str, Any]:
    folder = g.hub.settings.console_dsfr_dir if g.get("hub") else ""
    return {"person": g.get("person"), "organisation": g.get("organisation"),
            "dsfr": bool(folder) and os.path.isfile(os.path.join(folder, "dsfr.min.css")),
            "notice": session.pop("notice", None) if g.get("person") else None,
            "exchange_titles": EXCHANGE_TITLES, "uuid": uuid.uuid4}
