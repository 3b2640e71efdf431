"""Fixtures that start the real parts: the Kafka broker, PostgreSQL and SQLite databases,
and a full hub stack (API in-process over ASGI, outbox relay and webhook dispatcher)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from consumers.webhooks import WebhookDispatcher
from services.app import create_app
from services.config import ROOT, Settings
from services.console.agents import demo_accounts, register_accounts
from services.demo import seed
from services.hub import Hub, group_writer
from services.local_broker import LocalBroker
from services.messaging.outbox import OutboxRelay
from services.migrations import grant_hub_role, upgrade
from services.oauth.keys import ensure_key
from services.verifiable_log.keys import ensure_key as ensure_log_key
from services.writes import remote

BACKENDS = ["sqlite", "postgresql"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_over_http(app: Any, port: int | None = None) -> Iterator[str]:
    """`app` served by uvicorn on loopback, in a thread, for what must reach the hub over
    a real socket (a Kafka client fetching its token, a browser): its base URL."""
    import uvicorn

    port = port or _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# The console's identity provider (a real Keycloak, started by the console's tests): its
# port and the console client's secret, the same for every stack; the demo agents'
# accounts, registered in every stack and imported into the provider's realm.
IDP_HOME = Path(tempfile.mkdtemp(prefix="vigie-idp-"))
IDP_PORT = str(int(os.environ.get("VIGIE_TEST_IDP_PORT", 0)) or _free_port())
TEST_AGENTS = demo_accounts()
# Known to the provider, unknown to the hub's registry: signs in, and is refused.
STRANGER = {"org_id": "miviludes", "username": "inconnu", "password": "inconnu-pass-1",
            "roles": ["reader"], "sub": "00000000-0000-4000-8000-00000000dead",
            "name": "Agent Inconnu", "email": "inconnu@demo.vigie.invalid"}


def agent(username: str) -> dict:
    return next(a for a in TEST_AGENTS + [STRANGER] if a["username"] == username)


def test_settings(state_dir: Path, database_url: str, **env: str) -> Settings:
    port = os.environ.get("VIGIE_SERVICES_KAFKA_PORT", "19092")
    return Settings.from_env({
        "VIGIE_STATE_DIR": str(state_dir),
        "VIGIE_DATABASE_URL": database_url,
        "VIGIE_KAFKA_PORT": port,
        "VIGIE_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:10]}.",
        "VIGIE_TOPIC_PARTITIONS": "3",
        # Local receivers on loopback, quick retries; the broker's JWKS is written only by
        # the stack that tests Kafka access.
        "VIGIE_WEBHOOK_ALLOW_HTTP": "1",
        "VIGIE_WEBHOOK_ALLOW_PRIVATE": "1",
        "VIGIE_WEBHOOK_BACKOFF_BASE": "0.2",
        "VIGIE_WEBHOOK_BACKOFF_MAX": "1",
        "VIGIE_WEBHOOK_MAX_ATTEMPTS": "6",
        "VIGIE_WEBHOOK_TIMEOUT": "2",
        "VIGIE_KAFKA_JWKS_FILE": "",
        # Polling loops would trip the production rate limit; its own test sets one.
        "VIGIE_RATE_LIMIT_PER_MINUTE": "1000000",
        "VIGIE_RATE_LIMIT_BURST": "100000",
        "VIGIE_ADDRESS_RATE_LIMIT_PER_MINUTE": "1000000",
        "VIGIE_ADDRESS_RATE_LIMIT_BURST": "100000",
        "VIGIE_TOKEN_RATE_LIMIT_PER_MINUTE": "1000000",
        "VIGIE_TOKEN_RATE_LIMIT_BURST": "100000",
        # The production queue budget (0.4 s) refuses a write that waited longer, by
        # design under overload; on this 2-core machine a stall of the shared PostgreSQL
        # or of the broker beside the suite made a functional test's request fail with 503
        # (twice in five fresh runs: an audit entry, a submission). The budget is measured
        # by the benchmark's overload phase, not here.
        "VIGIE_QUEUE_BUDGET_SECONDS": "10",
        "VIGIE_IDP_PORT": IDP_PORT,
        "VIGIE_CONSOLE_OIDC_CLIENT_SECRET_FILE": str(IDP_HOME / "client-secret"),
        **env,
    })


@pytest.fixture(scope="session")
def broker_settings() -> Settings:
    state = Path(os.environ.get("VIGIE_SERVICES_STATE_DIR", ROOT / ".vigie" / "test"))
    return test_settings(state, "sqlite://")


@pytest.fixture(scope="session")
def broker(broker_settings: Settings) -> LocalBroker:
    """The real Apache Kafka broker (started if tools/test-stack.sh has not)."""
    local = LocalBroker(broker_settings)
    local.start()
    return local


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = os.environ.get("VIGIE_SERVICES_POSTGRES_URL")
    if not url:
        url = subprocess.run([str(ROOT / "tools" / "postgres.sh"), "start"], check=True,
                             capture_output=True, text=True).stdout.strip()
    return url


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory, postgres_admin_url) -> Iterator[Callable[[str], str]]:
    """Fresh empty databases: a SQLite file, or a new PostgreSQL database."""
    created: list[str] = []
    admin = None

    def make(backend: str) -> str:
        nonlocal admin
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'vigie.db'}"
        if admin is None:
            admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT",
                                  pool_pre_ping=True)
        name = f"vigie_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return postgres_admin_url.rsplit("/", 1)[0] + "/" + name

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Api:
    """An organisation's view of the hub through the real ASGI app."""

    stack: Stack
    org_id: str
    token: str
    # Sent with every request besides the token (e.g. Vigie-Purpose, Vigie-Agent).
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **self.extra_headers}

    def get(self, path: str, **params):
        return self.stack.http.get(path, params=params, headers=self.headers)

    def post(self, path: str, body=None, key: str | None = "auto", **kwargs):
        headers = dict(self.headers)
        if key == "auto":
            key = str(uuid.uuid4())
        if key is not None:
            headers["Idempotency-Key"] = key
        headers.update(kwargs.pop("headers", {}))
        if body is not None:
            kwargs["json"] = body
        return self.stack.http.post(path, headers=headers, **kwargs)

    def feed(self, after: str = "0", limit: int = 500) -> list[dict]:
        items, cursor = [], after
        while True:
            page = self.get("/v1/feed", after=cursor, limit=limit)
            assert page.status_code == 200, page.text
            data = page.json()
            items += data["items"]
            if not data["items"]:
                return items
            cursor = data["next"]

    def wait_delivered(self, item_id: str) -> dict:
        """Wait until the item is in this (recipient) organisation's feed."""
        items = self.wait_feed(lambda f: "submitted" in events_for(f, item_id))
        return next(i for i in items if i["event"]["subject"] == item_id)

    def wait_feed(self, predicate: Callable[[list[dict]], bool], timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            items = self.feed()
            if predicate(items):
                return items
            if time.monotonic() > deadline:
                raise AssertionError(f"feed of {self.org_id} never matched; has {len(items)} items")
            time.sleep(0.1)


@dataclass
class Stack:
    backend: str
    settings: Settings
    hub: Hub
    http: object
    creds: dict[str, dict]
    # The schema owner's URL (migrations; what a tamperer with database rights would use);
    # the hub itself runs as a role without ownership on PostgreSQL.
    owner_url: str = ""
    # What commits (the writer process's part), and what stops it taking writes.
    group_writer: Any = None
    stop_writer: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, org_id: str, scope: str | None = None) -> str:
        key = f"{org_id}|{scope}"
        if key not in self._tokens:
            c = self.creds[org_id]
            data = {"grant_type": "client_credentials"}
            if scope:
                data["scope"] = scope
            resp = self.http.post("/oauth/token", data=data,
                                  auth=(c["client_id"], c["client_secret"]))
            assert resp.status_code == 200, resp.text
            self._tokens[key] = resp.json()["access_token"]
        return self._tokens[key]

    def api(self, org_id: str, scope: str | None = None) -> Api:
        return Api(self, org_id, self.token(org_id, scope))


def as_hub_role(owner_url: str) -> str:
    """On PostgreSQL, the same database as the `vigie_hub` role (granted what the hub
    needs, owning nothing), as the hub runs in production."""
    if not owner_url.startswith("postgresql"):
        return owner_url
    hub_url = os.environ.get("VIGIE_SERVICES_POSTGRES_HUB_URL") or subprocess.run(
        [str(ROOT / "tools" / "postgres.sh"), "hub-url"], check=True, capture_output=True,
        text=True).stdout.strip()
    grant_hub_role(owner_url, "vigie_hub")
    return hub_url.rsplit("/", 1)[0] + "/" + owner_url.rsplit("/", 1)[1]


def build_stack(backend: str, database_url: str, state_dir: Path, run_consumers: bool = True,
                **env: str) -> Stack:
    """The API in-process, committing through a writer served on a socket as `vigie serve`
    runs it (here a thread of the test process instead of a process of its own)."""
    upgrade(database_url)
    socket_path = state_dir / "run" / "writer.sock"
    settings = test_settings(state_dir, as_hub_role(database_url),
                             VIGIE_WRITER_SOCKET=str(socket_path), **env)
    hub = Hub.create(settings)
    with hub.db.transaction() as session:
        ensure_key(session)
        if not settings.log_keys_file:
            ensure_log_key(session, settings.log_origin)
        creds = {c["org_id"]: c for c in seed(session, state_dir / "dev-clients.json")}
        register_accounts(session, TEST_AGENTS)
    app = create_app(settings, hub)
    writer = group_writer(settings, hub.db, hub.log_keys)
    writer.catch_up()
    stop_writer = threading.Event()
    serving = threading.Thread(target=remote.serve, args=(writer, socket_path, stop_writer),
                               daemon=True, name="writer-process")
    serving.start()
    while not socket_path.exists():
        assert serving.is_alive(), "the writer did not start"
        time.sleep(0.01)
    stack = Stack(backend, settings, hub, app.test_client(base_url="http://127.0.0.1"), creds,
                  owner_url=database_url, group_writer=writer, stop_writer=stop_writer)
    if run_consumers:
        start_consumers(stack)
    return stack


def start_consumers(stack: Stack) -> None:
    stack.stop.clear()
    relay = OutboxRelay(stack.hub.db, stack.settings, idle_seconds=0.02)
    stack.group_writer.on_commit = relay.wake
    stack.threads = [threading.Thread(target=relay.run, args=(stack.stop,), daemon=True)]
    stack.threads.append(threading.Thread(
        target=WebhookDispatcher(stack.hub.db, stack.settings).run, args=(stack.stop,),
        daemon=True))
    for t in stack.threads:
        t.start()


def stop_consumers(stack: Stack) -> None:
    stack.stop.set()
    for t in stack.threads:
        t.join(timeout=30)


@pytest.fixture(scope="session", params=BACKENDS)
def stack(request, broker, database_factory, tmp_path_factory) -> Iterator[Stack]:
    """A whole hub on SQLite and on PostgreSQL, against the real broker."""
    s = build_stack(request.param, database_factory(request.param),
                    tmp_path_factory.mktemp(f"state-{request.param}"))
    yield s
    stop_consumers(s)
    # The suite's whole traffic, read back: every message as the contract types it.
    from tests.openapi.events import emitted_nonconforming

    nonconforming = emitted_nonconforming(s)
    s.stop_writer.set()
    s.hub.stop()
    s.hub.db.engine.dispose()
    assert not nonconforming, (f"{len(nonconforming)} emitted messages do not conform to "
                               f"the contract: " + "\n".join(nonconforming[:20]))


def stored_counts(stack: Stack) -> tuple[int, ...]:
    """Rows of everything a request could leave behind."""
    from sqlalchemy import func, select

    from services.exchanges.models import Item, ItemKey, ItemStep
    from services.feed.models import FeedItem
    from services.idempotency.models import IdempotencyRecord

    with stack.hub.db.sessions() as session:
        return tuple(session.scalar(select(func.count()).select_from(m))
                     for m in (Item, ItemStep, ItemKey, IdempotencyRecord, FeedItem))


@pytest.fixture
def nothing_stored(stack):
    """The test's requests, all refused, leave no row anywhere."""
    before = stored_counts(stack)
    yield
    assert stored_counts(stack) == before


# What a prosecution office's magistrate declares (a court's is the default example's).
PARQUET = {"magistrate_role": "procureur_republique"}


def example_request(**overrides) -> dict:
    body = {
        "recipient": "miviludes",
        # The court's code and name come from the sender's registry record.
        "requesting_authority": {"magistrate_role": "juge_instruction"},
        "case_references": {"parquet_number": "24123000456", "prosecution_stage": "citation"},
        "prosecuted_offence": {"qualification": "abus_frauduleux_sujetion",
                               "legal_reference": "art. 223-15-3 CP"},
        "subject": {"movement": "Cercle de l'Éveil Intérieur",
                    "practices": ["stages de jeûne prolongé"]},
        "questions": ["Le mouvement est-il connu de vos services ?"],
        "due_date": "2099-12-31",
    }
    body.update(overrides)
    return body


def example_answer(**overrides) -> dict:
    """A service's answer: a dated, signed statement acknowledging the notice."""
    body = {"text": "Quatorze signalements depuis 2019.",
            "signed_by": {"name": "Anne Lefèvre", "capacity": "Cheffe du pôle santé"},
            "signed_on": date.today().isoformat(), "notice_acknowledged": True}
    body.update(overrides)
    return body


def request_from(org_id: str, **overrides) -> dict:
    """`example_request` as the demo organisation `org_id` may send it: a prosecution
    office's magistrate is the parquet's."""
    if org_id.startswith("pr-"):
        overrides.setdefault("requesting_authority", PARQUET)
    return example_request(**overrides)


def example_notification(**overrides) -> dict:
    body = {
        "professional": {
            "rpps": "10001234565", "last_name": "Moreau", "first_names": ["Julien"],
            "birth_date": "1978-04-12", "profession": "PHARMACIENS",
            "address": {"line1": "12 rue des Lilas", "postal_code": "13006",
                        "city": "Marseille"},
            "activity": "Pharmacien titulaire d'officine",
            "place_of_practice": "Pharmacie du Prado", "employer": "SELARL du Prado",
        },
        "measure": {"type": "conviction", "finality": "appeal_period_running",
                    "decision_date": "2025-10-02",
                    "operative_part": "18 mois avec sursis, 20 000 € d'amende."},
        "offences": [{"qualification": "Abus frauduleux de l'état de sujétion (223-15-3 CP)",
                      "date": "2023-05-01", "place": "Marseille",
                      "description": "Vente de remèdes à des patients atteints de cancer."}],
        "case_references": {"parquet_number": "23101000789"},
        "person_informed_on": "2025-10-03",
    }
    body.update(overrides)
    return body


def example_notice(**overrides) -> dict:
    body = {
        "recipient": "plateforme-alpha",
        "urls": [f"https://video.plateforme-alpha.example/watch?v={uuid.uuid4().hex[:10]}"],
        "category": "dangerous_health_practice",
        "explanation": "Incite des malades à arrêter leur traitement au profit d'un jeûne.",
        "legal_provision": "art. 223-1-2 CP",
        "notifier": {"email": "signalements@example.org"},
        "good_faith_statement": True,
    }
    body.update(overrides)
    return body


def example_order(**overrides) -> dict:
    body = {
        "recipient": "plateforme-beta",
        "decision": {"date": "2025-09-15", "finality": "final"},
        "accounts": [{"identifier": "@eveil.interieur",
                      "url": "https://plateforme-beta.example/@eveil.interieur"}],
        "duration_months": 6,
        "served_on": date.today().isoformat(),
    }
    body.update(overrides)
    return body


RESTRICTED = {
    "outcome": "restricted",
    "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
    "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
    "illegal_content_legal_ground": "art. 223-1-2 CP",
    "illegal_content_explanation": "Provocation à l'abandon de soins.",
    "category": "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "content_type": ["CONTENT_TYPE_VIDEO"],
    "application_date": "2025-11-02",
    "territorial_scope": ["EEA"],
    "decision_facts": "Incitation à l'abandon de soins.",
    "puid": "BETA-MOD-1",
    "automated_detection": False, "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
    "redress": "Réclamation interne (art. 20 DSA) ou juge.",
}
NO_ACTION = {"outcome": "no_action", "no_action_reasons": "Contenu satirique, non illicite.",
             "automated_detection": False,
             "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
             "redress": "Réclamation interne (art. 20 DSA) ou juge."}


def example_signalement(**overrides) -> dict:
    body = {
        "sender_reference": "ASSO-2025-0412",
        "received_on": date.today().isoformat(),
        "categories": ["health", "finances"],
        "movement": "Cercle du Renouveau Intérieur (fictif)",
        "practices": ["jeûne prolongé"],
        "facts": "Une patiente a arrêté sa chimiothérapie après des stages de « guérison ».",
        "places": [{"commune_insee": "13055", "label": "Marseille"}],
        "people": [{"role": "victim", "last_name": "Roux", "first_names": ["Anne"],
                    "birth_date": "2010-07-08", "contact": "anne.roux@example.org"},
                   {"role": "alleged_author", "last_name": "Garnier",
                    "first_names": ["Serge"], "profession": "PHARMACIENS"}],
    }
    body.update(overrides)
    return body


def example_offence_report(**overrides) -> dict:
    body = {
        "place": {"commune_insee": "13055", "label": "Marseille"},
        "facts": "Arrêt de chimiothérapie obtenu par un praticien de « biodécodage ».",
        "offences": [{"qualification": "Abus frauduleux de l'état de sujétion (223-15-3 CP)",
                      "natinf": "30041"}],
        "persons": [{"role": "alleged_author", "last_name": "Garnier",
                     "first_names": ["Serge"]}],
        "reporting_official": {"name": "Claire Vidal", "capacity": "Conseillère santé"},
    }
    body.update(overrides)
    return body


def example_order_report(**overrides) -> dict:
    body = {
        "professional": {"rpps": "10001234565", "last_name": "Garnier",
                         "first_names": ["Serge"], "profession": "PHARMACIENS"},
        "practices": ["Conseils d'arrêt de traitement au comptoir"],
        "facts": "Plusieurs signalements décrivent des conseils d'arrêt de traitement.",
    }
    body.update(overrides)
    return body


def example_for(exchange: str) -> tuple[str, dict]:
    """A demo sender and a valid submission, for tests that hold for every exchange."""
    return {"information-requests": ("pr-marseille",
                                     example_request(requesting_authority=PARQUET)),
            "order-notifications": ("pr-marseille", example_notification()),
            "content-notices": ("vigilance-alpha", example_notice()),
            "suspension-orders": ("tj-lyon", example_order()),
            "signalements": ("asso-entraide-sud", example_signalement()),
            "offence-reports": ("miviludes", example_offence_report()),
            "order-reports": ("miviludes", example_order_report())}[exchange]


def topic_entries(settings: Settings, org_id: str, timeout: float = 60) -> list[dict]:
    """Every record of an organisation's own Kafka topic, in order (read with the hub's
    internal client configuration)."""
    return [json.loads(r.value) for r in topic_records(settings, org_id, timeout)]


def topic_records(settings: Settings, org_id: str, timeout: float = 60) -> list:
    """Every record (value, headers...) of an organisation's own Kafka topic, in order."""
    from kafka import KafkaConsumer, TopicPartition

    from services.messaging.kafka_client import client_config
    from services.messaging.topics import feed_topic

    tp = TopicPartition(feed_topic(settings, org_id), 0)
    consumer = KafkaConsumer(**client_config(settings), group_id=None,
                             enable_auto_commit=False, client_id="test-reader")
    try:
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        out: list = []
        deadline = time.monotonic() + timeout
        while consumer.position(tp) < end:
            assert time.monotonic() < deadline, "the topic could not be read"
            for records in consumer.poll(timeout_ms=500).values():
                out += records
        return out
    finally:
        consumer.close(autocommit=False)


def wait_topic_matches_feed(stack: Stack, org_id: str, timeout: float = 60) -> list[dict]:
    """Until the organisation's topic carries exactly its REST feed, in the same order."""
    deadline = time.monotonic() + timeout
    while True:
        feed = stack.api(org_id).feed()
        topic = topic_entries(stack.settings, org_id)
        if _erasable(topic, feed) == _erasable(feed, feed) or time.monotonic() > deadline:
            assert _erasable(topic, feed) == _erasable(feed, feed), (len(topic), len(feed))
            return topic
        time.sleep(0.2)


def _erasable(entries: list[dict], feed: list[dict]) -> list[dict]:
    """Entries as compared with the feed: an entry the feed holds redacted (its item was
    erased) may still be on the topic as first published, until the relay deletes it
    there; only its place and message id are compared."""
    erased = {e["event"]["id"] for e in feed
              if e["event"]["data"].get("redacted") or e["event"]["data"].get("erase")}
    return [{"cursor": e["cursor"], "id": e["event"]["id"]} if e["event"]["id"] in erased
            else e for e in entries]


def events_for(items: list[dict], item_id: str) -> list[str]:
    return [i["event"]["type"].rsplit(".", 1)[1] for i in items if i["event"]["subject"] == item_id]


def dump(obj) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False)


def pytest_terminal_summary(terminalreporter):
    """The figures of the hostile suite, at the end of the run."""
    from tests.faults import test_faults as faults
    from tests.hostile import test_authorization_matrix as matrix
    from tests.hostile import test_contract_fuzzing as fuzzing
    from tests.hostile import test_injection as injection

    if faults.FIGURES:
        f = faults.FIGURES
        terminalreporter.write_line(
            f"fault suite: faults injected: {'; '.join(f['faults'])}; {f['accepted']} "
            f"submissions accepted ({f['attempts']} attempts, retried: {f['retried']}) to "
            f"{f['recipients']} recipients in {f['load_seconds']} s; {f['stored']} items "
            f"stored; feeds complete {f['recovery_seconds']} s after the load; "
            f"lost {f['lost']}, duplicated {f['duplicated']}; on the recipients' topics: "
            f"lost {f['topic_lost']}, duplicated {f['topic_duplicated']}; audit chain and "
            f"log intact ({f.get('audit_entries')} entries)")
    if matrix.MATRIX or fuzzing.FUZZED:
        terminalreporter.write_line(
            f"hostile suite: {len(fuzzing.FUZZED)} generated requests on "
            f"{len(set(fuzzing.FUZZED))} operations (schemathesis, callers of "
            f"{len(fuzzing.CALLERS)} organisation types, slowest "
            f"{fuzzing.SLOWEST[0] * 1000:.0f} ms); authorization matrix "
            f"{len(matrix.MATRIX)} calls on other organisations' items; "
            f"{len(injection.INJECTIONS)} injection strings tried")


@dataclass
class ObjectStore:
    """A real S3-compatible server (SeaweedFS, built by tools/seaweedfs.sh)."""

    endpoint: str
    access_key: str
    secret_key: str

    def env(self, bucket: str) -> dict[str, str]:
        return {"VIGIE_DOCUMENT_STORE": "s3", "VIGIE_DOCUMENT_S3_ENDPOINT": self.endpoint,
                "VIGIE_DOCUMENT_S3_BUCKET": bucket,
                "VIGIE_DOCUMENT_S3_ACCESS_KEY": self.access_key,
                "VIGIE_DOCUMENT_S3_SECRET_KEY": self.secret_key}


@pytest.fixture(scope="session")
def object_store(tmp_path_factory) -> Iterator[ObjectStore]:
    """SeaweedFS's S3 gateway on loopback with generated credentials, for the session."""
    import secrets

    import httpx

    weed = os.environ.get("VIGIE_SERVICES_WEED") or subprocess.run(
        [str(ROOT / "tools" / "seaweedfs.sh")], check=True, capture_output=True,
        text=True).stdout.strip()
    home = tmp_path_factory.mktemp("seaweedfs")
    store = ObjectStore("", "vigie" + secrets.token_hex(6), secrets.token_urlsafe(24))
    (home / "s3.json").write_text(json.dumps({"identities": [{
        "name": "vigie", "credentials": [{"accessKey": store.access_key,
                                          "secretKey": store.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = {name: _free_port() for name in ("s3", "master", "volume", "filer")}
    grpc = {name: _free_port() for name in ("s3", "master", "volume", "filer")}
    log = open(home / "weed.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [weed, "server", "-ip=127.0.0.1", f"-dir={home}", "-s3",
         f"-s3.config={home / 's3.json'}", "-master.volumeSizeLimitMB=64", "-volume.max=20",
         *(f"-{name}.port={port}" for name, port in ports.items()),
         *(f"-{name}.port.grpc={port}" for name, port in grpc.items())],
        stdout=log, stderr=subprocess.STDOUT)
    store.endpoint = f"http://127.0.0.1:{ports['s3']}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(store.endpoint + "/", timeout=1).status_code in (200, 403):
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, \
            (home / "weed.log").read_text()[-2000:]
        time.sleep(0.3)
    yield store
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def identity_provider():
    """The console's OpenID Connect provider: Keycloak with the demo agents' realm."""
    from services.console.agents import ensure_secret
    from services.identity_provider import LocalIdentityProvider, realm

    settings = Settings.from_env({"VIGIE_STATE_DIR": str(IDP_HOME),
                                  "VIGIE_IDP_PORT": IDP_PORT})
    idp = LocalIdentityProvider(settings)
    idp.start()
    secret = ensure_secret(IDP_HOME / "client-secret")
    # A loopback redirect URI: Keycloak accepts it on any port (RFC 8252), as the tests'
    # servers use.
    # Codes reusable within their 30 s: the same agent signs in in several tests.
    idp.ensure_realm(realm(TEST_AGENTS + [STRANGER], "vigie-console", secret,
                           ["http://127.0.0.1/console/auth/callback"], reusable_codes=True))
    yield idp
    idp.stop()


def synthetic_feed_entry(org_id: str):
    """A feed entry for tests of the write path itself: a content notice's message as the
    hub keeps it once the notice is erased (a digest; valid against the contract)."""
    from schemas.envelope import Envelope
    from services.exchanges.service import redacted_data
    from services.writes.group import FeedEntry

    item = str(uuid.uuid4())
    envelope = Envelope(type="fr.gouv.vigie.content-notices.submitted",
                        source="/v1/content-notices", subject=item, senderorg="dgs",
                        recipientorg=org_id, correlationid=item, data=redacted_data(item, {}))
    return FeedEntry(org_id=org_id, message_id=envelope.id, item_id=item,
                     event_type=envelope.type, envelope=envelope.to_json().decode(),
                     exchange="content-notices", lane="standard", sent_at=envelope.time)
