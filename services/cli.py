"""The `vigie` command: serve, consumers, broker, database, organisations, keys, demo."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

from .config import Settings
from .logs import configure as configure_logs


def _print(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def cmd_serve(args, settings: Settings) -> None:
    import os
    import shutil

    import uvicorn

    supervised = args.workers > 1 or settings.writer_process
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or (
        str(settings.state_dir / "metrics") if supervised else "")
    if shared:
        # Each worker writes its counters there; /metrics, served by any one of them,
        # adds them up. Emptied at start: the counters restart with the server.
        shutil.rmtree(shared, ignore_errors=True)
        Path(shared).mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared

    # Behind a TLS-terminating ingress, the forwarded scheme must be trusted or the
    # token endpoint refuses plain http.
    options = {"log_level": "warning", "access_log": False, "proxy_headers": True,
               "forwarded_allow_ips": args.forwarded_allow_ips}
    if supervised:
        from .server import serve

        serve(args.host, args.port, args.workers, options, writer=settings.writer_process)
        return
    from .server import APP, BACKLOG, CoalescingHttpProtocol, Server, listening_socket

    sock = listening_socket(args.host, args.port, reuse_port=False)
    config = uvicorn.Config(APP, factory=True, host=args.host, port=args.port,
                            http=CoalescingHttpProtocol, backlog=BACKLOG, **options)
    Server(config).run(sockets=[sock])


CONSUMER_ROLES = ("relay", "webhooks", "witness", "erasure", "notices")


def cmd_consumers(args, settings: Settings) -> None:
    """The background work, all of it or some roles (`--roles`), so that each scales on its
    own: `relay` (the outbox to the recipients' topics, one leader at a time),
    `webhooks`, `witness` (the hub checking its own log), `erasure` (erased items'
    records deleted from the recipients' topics once read) and `notices` (agents' e-mail
    notices, when an SMTP relay is configured). Delivery to the feeds needs
    no process: the API writes them at commit."""
    from prometheus_client import start_http_server

    from consumers.webhooks import WebhookDispatcher

    from .db import Database
    from .messaging.erasures import TopicEraser
    from .messaging.outbox import OutboxRelay
    from .verifiable_log.witness import HubWitness

    roles = {r.strip() for r in args.roles.split(",") if r.strip()}
    unknown = roles - set(CONSUMER_ROLES)
    if unknown or not roles:
        sys.exit(f"vigie consumers: unknown roles {sorted(unknown)}; "
                 f"use {', '.join(CONSUMER_ROLES)}")
    db = Database(settings.database_url)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_host)
    from . import tracing

    tracing.configure(settings.otlp_endpoint, f"{settings.otel_service_name}-consumers")
    threads = []
    if "relay" in roles:
        threads.append(threading.Thread(target=OutboxRelay(db, settings).run, args=(stop,),
                                        name="outbox-relay"))
    if "webhooks" in roles:
        threads.append(threading.Thread(target=WebhookDispatcher(db, settings).run,
                                        args=(stop,), name="webhooks"))
    if "witness" in roles:
        threads.append(threading.Thread(target=HubWitness(db, settings).run, args=(stop,),
                                        name="log-witness"))
    if "notices" in roles:
        from consumers.agent_notices import AgentNotifier

        threads.append(threading.Thread(target=AgentNotifier(db, settings).run,
                                        args=(stop,), name="agent-notices"))
    if "erasure" in roles:
        threads.append(threading.Thread(target=TopicEraser(db, settings).run, args=(stop,),
                                        name="topic-erasure"))
    for t in threads:
        t.start()
    print(f"vigie consumers running ({', '.join(t.name for t in threads)})", flush=True)
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=0.5)
        if not stop.is_set() and not all(t.is_alive() for t in threads):
            stop.set()  # a dead worker stops the process: the orchestrator restarts it
    tracing.shutdown()
    sys.exit(0 if stop.is_set() else 1)


def cmd_kafka(args, settings: Settings) -> None:
    from .local_broker import LocalBroker

    broker = LocalBroker(settings)
    _print({"start": broker.start, "stop": broker.stop, "status": broker.status}[args.action]())


def cmd_idp(args, settings: Settings) -> None:
    """The local OpenID Connect provider (Keycloak) with the realm of the demo agents."""
    from .console.agents import ensure_secret
    from .identity_provider import LocalIdentityProvider, realm

    idp = LocalIdentityProvider(settings)
    if args.action != "start":
        _print({"stop": idp.stop, "status": idp.status}[args.action]())
        return
    agents_file = settings.state_dir / "dev-agents.json"
    if not agents_file.exists():
        print("vigie: no demo agents yet: run `vigie setup --demo` first", file=sys.stderr)
        sys.exit(1)
    status = idp.start()
    secret = ensure_secret(Path(settings.console_oidc_client_secret_file))
    status["realm_imported"] = idp.ensure_realm(realm(
        json.loads(agents_file.read_text()), settings.console_oidc_client_id, secret,
        [settings.console_url + "/console/auth/callback"]))
    _print(status)


def cmd_topics(args, settings: Settings) -> None:
    from .db import Database
    from .messaging.topics import ensure_topics, feed_topic
    from .organisations.service import list_organisations

    with Database(settings.database_url).sessions() as session:
        orgs = [o.id for o in list_organisations(session)]
    names = [feed_topic(settings, org) for org in orgs]
    _print({"created": ensure_topics(settings, names), "topics": names})


def cmd_db(args, settings: Settings) -> None:
    """Migrate as the schema's owner; on PostgreSQL, then grant the role the hub runs as
    (--grant-to or VIGIE_HUB_DATABASE_ROLE) what it needs and nothing more."""
    from .migrations import grant_hub_role, upgrade

    upgrade(settings.database_url)
    role = args.grant_to or os.environ.get("VIGIE_HUB_DATABASE_ROLE", "")
    if role:
        grant_hub_role(settings.database_url, role)
    _print({"upgraded": True, "database": settings.database_url.split("@")[-1],
            "hub_role": role or None})


def cmd_org(args, settings: Settings) -> None:
    from .db import Database
    from .organisations import service

    def shown(org) -> dict:
        return {"id": org.id, "type": org.type, "name": org.name,
                "profession": org.profession, "legal_entity": org.legal_entity,
                "jurisdiction": org.jurisdiction, "jurisdiction_name": org.jurisdiction_name}

    db = Database(settings.database_url)
    with db.transaction() as session:
        if args.action == "add":
            _print(shown(service.add_organisation(
                session, args.id, args.type, args.name, args.profession, args.legal_entity,
                args.jurisdiction, args.jurisdiction_name)))
        elif args.action == "update":
            _print(shown(service.update_organisation(
                session, args.id, args.name, args.jurisdiction, args.jurisdiction_name)))
        elif args.action == "flagger":
            from datetime import date

            from .content_notices.rules import CATEGORIES

            if not (args.status and args.effective_from):
                raise service.OrganisationError("--status and --from are required")
            row = service.set_flagger_status(
                session, args.id, args.status,
                [a for a in (args.areas or "").split(",") if a],
                date.fromisoformat(args.effective_from), args.decision or "", CATEGORIES)
            _print({"id": row.org_id, "status": row.status, "areas": row.areas.split(),
                    "from": row.effective_from.isoformat(),
                    "decision": row.decision_reference})
        else:
            _print([{"id": o.id, "type": o.type, "name": o.name,
                     "jurisdiction": o.jurisdiction}
                    for o in service.list_organisations(session)])


def cmd_client(args, settings: Settings) -> None:
    from .db import Database
    from .organisations import service

    db = Database(settings.database_url)
    with db.transaction() as session:
        if args.action == "add":
            if not args.org:
                raise service.OrganisationError("--org is required")
            client, secret = service.add_client(session, args.org, args.scope or None,
                                                args.client_id)
            out = {"org_id": client.org_id, "org_type": client.organisation.type,
                   "client_id": client.client_id, "client_secret": secret,
                   "scopes": sorted(client.scope_set)}
            if args.jwk:
                # The organisation sent its public key: it signs its token requests
                # (private_key_jwt), and no secret exists for anyone to pass on.
                try:
                    text = sys.stdin.read() if args.jwk == "-" else Path(args.jwk).read_text()
                    key = service.add_key(session, client, json.loads(text))
                except (ValueError, OSError) as refused:  # KeyRefused, bad JSON, no file
                    raise service.OrganisationError(f"--jwk: {refused}") from None
                client.secrets.clear()
                del out["client_secret"]
                out["key"] = {"id": key.id, "kid": key.thumbprint}
        else:
            client = service.disable_client(session, args.client_id or "")
            out = {"client_id": client.client_id, "enabled": False}
    out["kafka_acls"] = _sync_acls(settings, [out["client_id"]])
    _print(out)


def _sync_acls(settings: Settings, client_ids: list[str] | None) -> str:
    """Grant or revoke broker access; a broker that is away is reported, not fatal."""
    from kafka.errors import KafkaError

    from .db import Database
    from .feed import kafka_access

    try:
        with Database(settings.database_url).sessions() as session:
            kafka_access.sync(session, settings, client_ids)
    except KafkaError as exc:
        print(f"vigie: broker ACLs not updated ({exc}); run `vigie acls sync`",
              file=sys.stderr)
        return "pending"
    return "synced"


def cmd_dlq(args, settings: Settings) -> None:
    from sqlalchemy import select

    from .db import Database, utcnow
    from .problems import Problem
    from .webhooks import service
    from .webhooks.models import WebhookDelivery

    db = Database(settings.database_url)
    if args.action == "list":
        with db.sessions() as session:
            rows = session.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "dead")
                                   .order_by(WebhookDelivery.id))
            _print([service.to_resource(d) for d in rows])
        return
    try:
        with db.transaction() as session:
            _print(service.to_resource(service.replay(session, args.id, utcnow())))
    except Problem as exc:
        print(f"vigie: {exc.detail}", file=sys.stderr)
        sys.exit(2)


def _pinned_keys(settings: Settings, keys_file: str | None):
    """The key set to trust: a pinned file when given, else the keys this hub signs with
    (its secret's or its database's: what an operator holds, not what the log says)."""
    from .db import Database
    from .verifiable_log import verifier
    from .verifiable_log.keys import LogKeys

    if keys_file:
        return verifier.KeySet(json.loads(Path(keys_file).read_text()))
    keys = LogKeys(Database(settings.database_url), settings.log_origin, settings.log_keys_file)
    keys.reload()
    return keys.trusted(settings.issuer)


def cmd_audit(args, settings: Settings) -> None:
    from .audit.service import verify
    from .db import Database
    from .verifiable_log.audit import verify_logged

    keys = _pinned_keys(settings, args.keys)
    with Database(settings.database_url).sessions() as session:
        count, problems = verify(session)
        problems += verify_logged(session, keys)
    for line in problems:
        print(f"vigie audit: {line}", file=sys.stderr)
    _print({"entries": count, "intact": not problems})
    sys.exit(1 if problems else 0)


def cmd_evidence(args, settings: Settings) -> None:
    from .db import Database
    from .evidence import service
    from .verifiable_log import verifier

    if args.action == "verify" and _is_pdf(Path(args.target)):
        sys.exit(_verify_record(Path(args.target), args.seal_cert))
    if args.action == "verify":
        argv = ["bundle", args.target] + (
            ["--fingerprint", args.fingerprint] if args.fingerprint else
            ["--keys", args.keys] if args.keys else [])
        if len(argv) == 2:
            print("vigie: verify trusts only pinned keys: give --keys FILE (from "
                  "/.well-known/vigie-log-keys.json, obtained once) or --fingerprint",
                  file=sys.stderr)
            sys.exit(2)
        sys.exit(verifier.main(argv))
    with Database(settings.database_url).sessions() as session:
        try:
            bundle = service.export(session, args.target, settings.log_origin, settings.issuer)
        except LookupError as exc:
            print(f"vigie: {exc}", file=sys.stderr)
            sys.exit(2)
    text = json.dumps(bundle, indent=2)
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text)


def _is_pdf(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as file:
        return file.read(5) == b"%PDF-"


def _verify_record(path: Path, seal_cert: str | None) -> int:
    """An item's sealed PDF record: its PAdES seal, checked against a pinned certificate
    (the hub's seal certificate, or the CA that issued it)."""
    from .records.seal import verify

    if not seal_cert:
        print("vigie: verify trusts only a pinned certificate: give --seal-cert FILE (the "
              "hub's seal certificate or its CA)", file=sys.stderr)
        return 2
    status = verify(path.read_bytes(), Path(seal_cert))
    _print(status)
    ok = status.get("sealed") and status.get("intact") and status.get("valid") and \
        status.get("trusted") and status.get("covers_whole_document")
    print("record sealed, intact and trusted" if ok else "record NOT verified",
          file=sys.stderr)
    return 0 if ok else 1


def cmd_retention(args, settings: Settings) -> None:
    from .db import utcnow
    from .hub import Hub
    from .retention.service import purge, purge_audit, purge_documents

    hub = Hub.create(settings)
    hub.keys.start()
    now = utcnow()
    _print({"purged": purge(hub.db, hub.writer, settings, now),
            "audit_entries_purged": purge_audit(hub.db, hub.writer, settings, now),
            "documents": purge_documents(hub.db, hub.writer, hub.storage, now)})


def cmd_acls(args, settings: Settings) -> None:
    _print({"kafka_acls": _sync_acls(settings, None)})


def cmd_keys(args, settings: Settings) -> None:
    from sqlalchemy import select

    from .db import Database
    from .oauth.keys import ALG, KeyRing, ensure_key, new_private_jwk, read_keys_file, rotate
    from .oauth.models import SigningKey

    db = Database(settings.database_url)
    if args.action == "generate":
        # For the keys file of a secret store: add it as "next", wait for the API processes
        # and the broker to publish it, make it "active" and the old one "retired".
        _print(dict(new_private_jwk(), state=args.state))
        return
    ring = KeyRing(db, settings.token_ttl_seconds + 60, jwks_file=settings.kafka_jwks_file,
                   keys_file=settings.signing_keys_file)
    if settings.signing_keys_file and args.action in ("init", "rotate"):
        print("vigie: keys come from VIGIE_SIGNING_KEYS_FILE: rotate them in the secret "
              "(`vigie keys generate`, add as next, then make it active)", file=sys.stderr)
        sys.exit(2)
    if args.action == "rotate":
        _print(rotate(db, args.publish_wait, on_change=ring.reload))
        return
    if settings.signing_keys_file:
        ring.reload()  # checks the file
        _print([{"kid": k.kid, "alg": ALG, "state": k.state, "retired_at": k.retired_at}
                for k in read_keys_file(Path(settings.signing_keys_file))])
        return
    with db.transaction() as session:
        if args.action == "init":
            ensure_key(session)
    ring.reload()
    with db.sessions() as session:
        _print([{"kid": k.kid, "alg": k.alg, "state": k.state, "created_at": k.created_at}
                for k in session.scalars(select(SigningKey).order_by(SigningKey.created_at))])


def cmd_legal(args, settings: Settings) -> None:
    """The dated table of legal references; with --on DATE, those in force that day."""
    from datetime import date

    from .legal.references import REFERENCES

    refs = REFERENCES.all()
    if args.on:
        day = date.fromisoformat(args.on)
        refs = [r for r in refs if r.in_force(day)]
    _print([r.as_json() for r in refs])


def cmd_data_keys(args, settings: Settings) -> None:
    """The keys sealing the secrets the hub keeps usable. `generate` prints a keys file for
    the secret store; `add-key --file F` prints F with a new active key (roll it out, then
    `reseal`); `reseal` seals every stored secret under the active key."""
    from . import sealed

    if args.action == "generate":
        _print(sealed.new_keys_file())
    elif args.action == "add-key":
        if not args.file:
            raise SystemExit("vigie data-keys add-key: --file is required")
        _print(sealed.add_key(json.loads(Path(args.file).read_text())))
    else:
        from .db import Database
        from .exchanges.service import reseal_identities
        from .webhooks.service import reseal

        box = sealed.SecretBox.from_settings(settings)
        with Database(settings.database_url).transaction() as session:
            _print({**reseal(session, box), "identities": reseal_identities(session, box),
                    "active_key": box.active})


def cmd_log(args, settings: Settings) -> None:
    from .db import Database, utcnow
    from .verifiable_log import keys as log_keys
    from .verifiable_log import service, verifier

    if args.action == "witness":
        argv = ["witness"]
        for name in ("url", "client_id", "client_secret_file", "state", "keys"):
            if getattr(args, name):
                argv += ["--" + name.replace("_", "-"), getattr(args, name)]
        sys.exit(verifier.main(argv))
    if args.action == "new-key":
        # An entry for VIGIE_LOG_KEYS_FILE (production): add it with valid_from = now and
        # give the previous entry a valid_until a little later (the processes reload).
        _print({"private_key": log_keys.new_seed(), "valid_from": utcnow().isoformat()})
        return
    db = Database(settings.database_url)
    if args.action in ("init", "rotate-key"):
        if settings.log_keys_file:
            print("vigie: log keys come from VIGIE_LOG_KEYS_FILE: rotate them in the secret "
                  "(`vigie log new-key`)", file=sys.stderr)
            sys.exit(2)
        with db.transaction() as session:
            if args.action == "init":
                log_keys.ensure_key(session, settings.log_origin)
            else:
                _print(log_keys.rotate(session, settings.log_origin))
                return
    if args.action == "checkpoint":
        with db.reads() as conn:
            row = service.latest(conn)
        if row is None:
            print("vigie: the log has no checkpoint yet", file=sys.stderr)
            sys.exit(1)
        print(row.note, end="")
        return
    with db.sessions() as session:
        _print(log_keys.key_set(session, settings.log_origin, settings.issuer))


def cmd_setup(args, settings: Settings) -> None:
    """Everything `make run` needs before serving: schema, keys, topics, demo data."""
    from .db import Database
    from .demo import seed
    from .migrations import upgrade
    from .oauth.keys import KeyRing, ensure_key
    from .verifiable_log.keys import ensure_key as ensure_log_key

    upgrade(settings.database_url)
    db = Database(settings.database_url)
    if not settings.signing_keys_file:
        with db.transaction() as session:
            ensure_key(session)
    if not settings.log_keys_file:
        with db.transaction() as session:
            ensure_log_key(session, settings.log_origin)
    if args.demo:
        clients_file = settings.state_dir / "dev-clients.json"
        with db.transaction() as session:
            clients = seed(session, clients_file)
        print(f"{len(clients)} demo clients in {clients_file}")
        from .console.agents import seed_demo

        agents_file = settings.state_dir / "dev-agents.json"
        with db.transaction() as session:
            accounts = seed_demo(session, agents_file)
        print(f"{len(accounts)} demo agents in {agents_file}")
    KeyRing(db, settings.token_ttl_seconds + 60, jwks_file=settings.kafka_jwks_file,
            keys_file=settings.signing_keys_file).reload()
    # The documents' store (the bucket, when it is S3) and the records' seal (generated
    # for development when no certificate is configured).
    from .documents.storage import storage_for
    from .records.seal import seal_files

    storage_for(settings).ensure()
    seal_files(settings)
    if not args.skip_topics:
        cmd_topics(args, settings)
        cmd_acls(args, settings)


def cmd_demo(args, settings: Settings) -> None:
    from .demo import SCENES, run_demo

    if args.exchange is not None and args.exchange not in SCENES:
        raise SystemExit(f"vigie demo: no exchange {args.exchange!r}; one of "
                         f"{', '.join(SCENES)}")

    run_demo(args.url, Path(args.clients or settings.state_dir / "dev-clients.json"),
             exchange=args.exchange)


def cmd_simulate(args, settings: Settings) -> None:
    """Play ORG against a running hub, with ORG's credentials from the clients file."""
    import contextlib
    import json

    from .demo import DemoClient
    from .exchanges.registry import EXCHANGES
    from .simulate import Behaviour, Simulator

    clients = json.loads(Path(args.clients or settings.state_dir / "dev-clients.json")
                         .read_text())
    creds = next((c for c in clients if c["org_id"] == args.as_org), None)
    if creds is None:
        raise SystemExit(f"vigie simulate: no credentials for {args.as_org!r}; one of "
                         f"{', '.join(sorted(c['org_id'] for c in clients))}")
    unknown = [name for name in args.send if name not in EXCHANGES]
    if unknown:
        raise SystemExit(f"vigie simulate: no exchange {', '.join(unknown)}")
    simulator = Simulator(DemoClient(args.url, creds), creds["org_id"],
                          frozenset(creds["scopes"]),
                          Behaviour(args.delay, args.refuse, tuple(args.send), args.every,
                                    args.seed), say=lambda line: print(line, flush=True))
    print(f"simulating {creds['org_id']} against {args.url} (Ctrl-C to stop)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        simulator.run(args.seconds)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vigie", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve the HTTP API (ASGI, uvicorn)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                   help="proxies trusted for X-Forwarded-Proto/For")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("consumers", help="run the outbox relay and the webhook dispatcher")
    s.add_argument("--roles", default=",".join(CONSUMER_ROLES),
                   help="comma-separated: " + ", ".join(CONSUMER_ROLES))
    s.add_argument("--metrics-port", type=int, default=9464, help="0 disables")
    s.add_argument("--metrics-host", default="127.0.0.1")
    s.set_defaults(func=cmd_consumers)

    s = sub.add_parser("kafka", help="the local single-node Kafka broker")
    s.add_argument("action", choices=["start", "stop", "status"])
    s.set_defaults(func=cmd_kafka)

    s = sub.add_parser("idp", help="the local OpenID Connect provider for the console")
    s.add_argument("action", choices=["start", "stop", "status"])
    s.set_defaults(func=cmd_idp)

    s = sub.add_parser("topics", help="create the hub's Kafka topics")
    s.set_defaults(func=cmd_topics)

    s = sub.add_parser("db", help="database schema")
    s.add_argument("action", choices=["upgrade"])
    s.add_argument("--grant-to", help="PostgreSQL: the role the hub runs as (not the owner)")
    s.set_defaults(func=cmd_db)

    s = sub.add_parser("org", help="organisations")
    s.add_argument("action", choices=["add", "update", "flagger", "list"])
    s.add_argument("--id")
    s.add_argument("--type")
    s.add_argument("--name")
    s.add_argument("--profession")
    s.add_argument("--legal-entity")
    s.add_argument("--jurisdiction",
                   help="courts and prosecution offices: the jurisdiction's code (TJ-PARIS)")
    s.add_argument("--status", help="flagger: awarded, suspended or revoked (DSA art. 22)")
    s.add_argument("--areas", help="flagger: the content-notice categories awarded, a,b")
    s.add_argument("--from", dest="effective_from", help="flagger: effective from (date)")
    s.add_argument("--decision", help="flagger: the coordinator's decision reference")
    s.add_argument("--jurisdiction-name",
                   help="its name (Tribunal judiciaire de Paris; a court's defaults to its own)")
    s.set_defaults(func=cmd_org)

    s = sub.add_parser("client", help="OAuth2 clients (and their broker ACLs)")
    s.add_argument("action", choices=["add", "disable"])
    s.add_argument("--org")
    s.add_argument("--scope", action="append", help="repeat; default: every scope of the org type")
    s.add_argument("--client-id")
    s.add_argument("--jwk", help="add: the client's public key (a JWK file, - for stdin); "
                   "it then authenticates with private_key_jwt and gets no secret")
    s.set_defaults(func=cmd_client)

    s = sub.add_parser("audit", help="verify the audit chain and that the log vouches for it")
    s.add_argument("action", choices=["verify"])
    s.add_argument("--keys", help="a pinned key set (default: the keys this hub signs with)")
    s.set_defaults(func=cmd_audit)

    s = sub.add_parser("evidence", help="export an item's evidence bundle; verify a bundle or a "
                       "sealed record.pdf")
    s.add_argument("action", choices=["export", "verify"])
    s.add_argument("target", help="the item id (export), or the bundle or record.pdf (verify)")
    s.add_argument("--output", "-o")
    s.add_argument("--keys", help="verify: the pinned key set (vigie-log-keys/1)")
    s.add_argument("--fingerprint", help="verify: SHA256:<hex> of the one key to trust")
    s.add_argument("--seal-cert", help="verify a record.pdf: the seal certificate to trust")
    s.set_defaults(func=cmd_evidence)

    s = sub.add_parser("legal", help="the legal references the hub cites, dated")
    s.add_argument("--on", help="only those in force on this date (YYYY-MM-DD)")
    s.set_defaults(func=cmd_legal)

    s = sub.add_parser("data-keys", help="keys sealing the stored webhook secrets")
    s.add_argument("action", choices=["generate", "add-key", "reseal"])
    s.add_argument("--file", help="add-key: the current keys file")
    s.set_defaults(func=cmd_data_keys)

    s = sub.add_parser("log", help="the verifiable log: keys, checkpoints, witnessing")
    s.add_argument("action", choices=["init", "rotate-key", "new-key", "keys", "checkpoint",
                                      "witness"])
    s.add_argument("--url", help="witness: the hub's base URL")
    s.add_argument("--client-id", help="witness: an OAuth2 client of your organisation")
    s.add_argument("--client-secret-file", help="witness: a file holding its secret")
    s.add_argument("--state", help="witness: where the last accepted checkpoint is kept")
    s.add_argument("--keys", help="witness: the pinned key set")
    s.set_defaults(func=cmd_log)

    s = sub.add_parser("retention", help="purge personal data past its retention")
    s.add_argument("action", choices=["purge"])
    s.set_defaults(func=cmd_retention)

    s = sub.add_parser("dlq", help="webhook dead letters: list, replay")
    s.add_argument("action", choices=["list", "replay"])
    s.add_argument("id", type=int, nargs="?")
    s.set_defaults(func=cmd_dlq)

    s = sub.add_parser("acls", help="grant/revoke recipients' broker ACLs to match clients")
    s.add_argument("action", choices=["sync"])
    s.set_defaults(func=cmd_acls)

    s = sub.add_parser("keys", help="signing keys")
    s.add_argument("action", choices=["init", "list", "rotate", "generate"])
    s.add_argument("--state", choices=["next", "active"], default="next",
                   help="with generate: the state of the new entry for the keys file")
    s.add_argument("--publish-wait", type=float, default=20.0,
                   help="seconds between publishing the next key and signing with it "
                        "(longer than the verifiers' JWKS refresh)")
    s.set_defaults(func=cmd_keys)

    s = sub.add_parser("setup", help="migrate, create keys and topics, seed demo data")
    s.add_argument("--demo", action="store_true")
    s.add_argument("--skip-topics", action="store_true")
    s.set_defaults(func=cmd_setup)

    s = sub.add_parser("demo", help="play every exchange end to end (or one: --exchange)")
    s.add_argument("--url", default="http://127.0.0.1:8080")
    s.add_argument("--clients")
    s.add_argument("--exchange", help="play only this exchange (e.g. signalements)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("simulate", help="play an organisation (a recipient or a sender) "
                                         "against a running hub, for integrators")
    s.add_argument("--as", dest="as_org", required=True, help="the organisation, e.g. "
                   "miviludes, plateforme-alpha, cnop")
    s.add_argument("--url", default="http://127.0.0.1:8080")
    s.add_argument("--clients", help="credentials file (default: .vigie/dev-clients.json)")
    s.add_argument("--delay", type=float, default=2.0, help="seconds before acting")
    s.add_argument("--refuse", type=float, default=0.0,
                   help="probability of declining where the exchange allows it (0 to 1)")
    s.add_argument("--send", action="append", default=[], metavar="EXCHANGE",
                   help="also submit the contract's example to this exchange, repeatedly")
    s.add_argument("--every", type=float, default=30.0, help="seconds between submissions")
    s.add_argument("--seed", type=int, help="for repeatable refusals")
    s.add_argument("--seconds", type=float, help="stop after this long (default: never)")
    s.set_defaults(func=cmd_simulate)
    return p


def main(argv: list[str] | None = None) -> None:
    configure_logs()
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    try:
        args.func(args, settings)
    except Exception as exc:
        from .organisations.service import OrganisationError

        if isinstance(exc, OrganisationError):
            print(f"vigie: {exc}", file=sys.stderr)
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
