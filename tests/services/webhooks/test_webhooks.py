"""Webhooks against a real local HTTP receiver that checks the Standard Webhooks
signature itself: delivery, retries while the receiver is down, dead letters, replay."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import yaml
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook as StandardWebhook

from services.config import ROOT, Settings
from services.db import utcnow
from services.webhooks.models import Webhook, WebhookDelivery
from services.webhooks.service import REFUSED, UnsafeURL, check_url, new_secret
from tests.conftest import example_request, request_from
from tests.openapi.events import problems

CONTRACT = yaml.safe_load((ROOT / "openapi" / "vigie.yaml").read_text())


class Receiver:
    """A recipient's endpoint. `failing` answers 500; `down` closes the listener."""

    def __init__(self, secret: str = ""):
        self.secret = secret
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.failing = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                if outer.failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                if not outer.verify(self.headers, body):
                    outer.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                outer.received.append({"id": self.headers["webhook-id"],
                                       "cursor": self.headers["vigie-cursor"],
                                       "headers": {k.lower(): v for k, v in
                                                   self.headers.items()},
                                       "raw": body,
                                       "event": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def verify(self, headers, body: bytes) -> bool:
        """Standard Webhooks, written from the specification, not from the hub's code."""
        msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
        if abs(time.time() - int(ts)) > 300:
            return False
        key = base64.b64decode(self.secret.split("_", 1)[1])
        expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body,
                                             hashlib.sha256).digest()).decode()
        return any(hmac.compare_digest(sig.split(",", 1)[1], expected)
                   for sig in headers["webhook-signature"].split(" ") if sig.startswith("v1,"))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def wait(self, predicate, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while not predicate(self.received):
            assert time.monotonic() < deadline, f"received {len(self.received)}"
            time.sleep(0.1)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def _register(stack, org: str, url: str) -> dict:
    resp = stack.api(org).post("/v1/webhooks", {"url": url}, key=None)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _unregister(stack, org: str, hook: dict) -> None:
    stack.http.delete(f"/v1/webhooks/{hook['id']}", headers=stack.api(org).headers)


def _state(stack, message_id: str) -> list[tuple]:
    """What the dispatcher has done with a message, for a failure's message."""
    with stack.hub.db.sessions() as session:
        return [(d.status, d.attempts, d.next_attempt_at, d.last_error)
                for d in session.scalars(select(WebhookDelivery).where(
                    WebhookDelivery.message_id == message_id))]


def test_signed_delivery(stack, receiver):
    hook = _register(stack, "dgs", receiver.url)
    receiver.secret = hook["secret"]
    assert hook["secret"].startswith("whsec_")
    listed = stack.api("dgs").get("/v1/webhooks").json()["items"]
    assert all("secret" not in h for h in listed) and hook["id"] in [h["id"] for h in listed]
    # Stored sealed with a key the database does not hold, bound to its row.
    with stack.hub.db.sessions() as session:
        stored = session.get(Webhook, hook["id"]).secret
    assert stored.startswith("sealed:v1:") and hook["secret"].removeprefix("whsec_") not in stored
    try:
        item = stack.api("tj-paris").post("/v1/information-requests",
                                          example_request(recipient="dgs")).json()
        receiver.wait(lambda got: any(r["event"]["subject"] == item["id"] for r in got))
        got = next(r for r in receiver.received if r["event"]["subject"] == item["id"])
        assert got["id"] == got["event"]["id"]
        assert got["event"]["type"] == "fr.gouv.vigie.information-requests.submitted"
        assert receiver.bad_signatures == 0
        # As the contract's x-webhooks says a receiver gets it: its headers, its body.
        described = CONTRACT["x-webhooks"]["feedEvent"]["post"]
        for header in described["parameters"]:
            value = got["headers"][header["name"]]
            if "pattern" in header["schema"]:
                assert re.match(header["schema"]["pattern"], value), (header, value)
        assert problems(got["event"]) == []
        # What a receiver's own code does, with the Standard Webhooks library.
        assert StandardWebhook(receiver.secret).verify(got["raw"], got["headers"]) == \
            got["event"]
        # The dispatcher records the outcome once the receiver has answered: wait for it.
        deadline = time.monotonic() + 10
        while True:
            attempts = stack.api("dgs").get("/v1/webhooks/deliveries").json()["items"]
            mine = next(a for a in attempts if a["message_id"] == got["id"])
            if mine["status"] != "pending" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert mine["status"] == "delivered" and mine["attempts"] == 1
    finally:
        _unregister(stack, "dgs", hook)


def test_a_receiver_down_for_a_while_gets_every_item_once(stack, receiver):
    hook = _register(stack, "miviludes", receiver.url)
    receiver.secret = hook["secret"]
    receiver.failing = True
    try:
        court = stack.api("pr-paris")
        ids = [court.post("/v1/information-requests", request_from(court.org_id)).json()["id"]
               for _ in range(4)]
        # Until each has failed at least once (however busy the machine is).
        deadline = time.monotonic() + 30
        while True:
            tried = [a for a in stack.api("miviludes").get("/v1/webhooks/deliveries")
                     .json()["items"] if a["webhook_id"] == hook["id"]
                     and a["attempts"] >= 1 and a["status"] == "pending"]
            if len(tried) >= len(ids):
                break
            assert time.monotonic() < deadline, "the failing receiver was never tried"
            time.sleep(0.2)
        assert not receiver.received
        receiver.failing = False
        receiver.wait(lambda got: {i for i in ids} <= {r["event"]["subject"] for r in got})
        time.sleep(1.0)
        counts = Counter(r["id"] for r in receiver.received if r["event"]["subject"] in ids)
        assert set(counts.values()) == {1}
        attempts = stack.api("miviludes").get("/v1/webhooks/deliveries").json()["items"]
        retried = [a for a in attempts if a["status"] == "delivered" and a["attempts"] > 1]
        assert retried, "no delivery needed a retry"
    finally:
        _unregister(stack, "miviludes", hook)


def test_dead_letters_are_parked_and_replayed_once(stack, receiver):
    hook = _register(stack, "dgs", receiver.url)
    receiver.secret = hook["secret"]
    receiver.failing = True
    operator = stack.api("exploitation")
    try:
        item = stack.api("tj-lyon").post("/v1/information-requests",
                                         example_request(recipient="dgs")).json()
        # The message's id, read once: the wait below re-read dgs's whole feed at every
        # turn, a feed that grows with the suite (the wait ran out twice in fresh runs).
        expected = stack.api("dgs").wait_delivered(item["id"])["event"]["id"]
        message_id = None
        # Six attempts 0.2 to 1 s apart: seconds when the dispatcher is free; the margin
        # is for a dispatcher still retrying other tests' deliveries under the suite.
        deadline = time.monotonic() + 60
        while message_id is None:
            assert time.monotonic() < deadline, f"never dead-lettered: {_state(stack, expected)}"
            dead = operator.get("/v1/admin/dead-letters").json()["items"]
            mine = [d for d in dead if d["message_id"] == expected]
            if mine:
                message_id, letter = mine[0]["message_id"], mine[0]
            time.sleep(0.2)
        assert letter["attempts"] == stack.settings.webhook_max_attempts
        assert 'vigie_webhook_dead_letters' in stack.http.get("/metrics").text
        receiver.failing = False
        # Another organisation does not know it; its recipient replays it itself.
        own = f"/v1/webhooks/deliveries/{letter['id']}/replay"
        assert stack.api("tj-lyon").post(own, key=None).status_code in (403, 404)
        assert stack.api("miviludes").post(own, key=None).status_code == 404
        replayed = stack.api("dgs").post(own, key=None)
        assert replayed.status_code == 200, replayed.text
        receiver.wait(lambda got: any(r["id"] == message_id for r in got))
        again = operator.post(f"/v1/admin/dead-letters/{letter['id']}/replay", key=None)
        time.sleep(1.0)
        assert again.status_code == 409
        assert sum(r["id"] == message_id for r in receiver.received) == 1
        # The operators' replay is theirs only.
        assert stack.api("dgs").post(f"/v1/admin/dead-letters/{letter['id']}/replay",
                                     key=None).status_code == 403
    finally:
        _unregister(stack, "dgs", hook)


def test_one_dead_receiver_does_not_hold_back_another(stack):
    slow = socket.socket()
    slow.bind(("127.0.0.1", 0))
    slow.listen(100)  # accepts connections, never answers: every attempt times out
    good = Receiver()
    hooks = []
    try:
        hooks.append(("miviludes", _register(
            stack, "miviludes", f"http://127.0.0.1:{slow.getsockname()[1]}/hook")))
        hook = _register(stack, "dgs", good.url)
        good.secret = hook["secret"]
        hooks.append(("dgs", hook))
        court = stack.api("tj-paris")
        for _ in range(5):
            court.post("/v1/information-requests", request_from(court.org_id))
        item = court.post("/v1/information-requests", example_request(recipient="dgs")).json()
        good.wait(lambda got: any(r["event"]["subject"] == item["id"] for r in got),
                  timeout=15)
    finally:
        for org, h in hooks:
            _unregister(stack, org, h)
        good.stop()
        slow.close()


@pytest.mark.parametrize("url,message", [
    ("http://127.0.0.1:8080/x", "must be an https URL"),
    ("https://127.0.0.1/x", "resolves to a loopback, private or link-local address"),
    ("https://10.1.2.3/x", "resolves to a loopback, private or link-local address"),
    ("https://192.168.1.1/x", "resolves to a loopback, private or link-local address"),
    ("https://169.254.169.254/latest/meta-data", "resolves to a loopback, private or "
                                                 "link-local address"),
    ("https://[::1]/x", "resolves to a loopback, private or link-local address"),
    ("https://localhost/x", "resolves to a loopback, private or link-local address"),
    ("https://user:pw@example.org/x", "must name a host, without credentials or fragment"),
    ("ftp://example.org/x", "must be an https URL"),
])
def test_no_ssrf(url, message):
    settings = Settings.from_env({})
    with pytest.raises(UnsafeURL) as err:
        check_url(url, settings)
    assert str(err.value) == message


def test_public_addresses_pass():
    def resolve(host, port, type=None):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    check_url("https://hooks.example.org/vigie", Settings.from_env({}), resolve=resolve)


def test_registration_refuses_unsafe_urls_without_storing(stack):
    from services.app import create_app

    strict = Settings.from_env({"VIGIE_DATABASE_URL": stack.settings.database_url,
                                "VIGIE_STATE_DIR": str(stack.settings.state_dir),
                                "VIGIE_KAFKA_JWKS_FILE": ""})
    app = create_app(strict, dataclasses.replace(stack.hub, settings=strict))
    http = app.test_client(base_url="http://127.0.0.1")
    headers = stack.api("dgs").headers
    answers = set()
    for url in ("http://127.0.0.1:9/x", "https://10.0.0.5/x", "https://[::1]/x",
                "https://user:pw@example.org/x"):
        resp = http.post("/v1/webhooks", json={"url": url}, headers=headers)
        assert resp.status_code == 422
        answers.add(json.dumps(resp.json()["errors"]))
    assert answers == {json.dumps([{"field": "url", "message": REFUSED}])}
    # Names are not resolved at registration: an internal name and an unknown one get the
    # same answer (their deliveries are refused alike, see below).
    for url in ("https://localhost/x", "https://no-such-host.invalid/x"):
        resp = http.post("/v1/webhooks", json={"url": url}, headers=headers)
        assert resp.status_code == 201, resp.text
        assert http.delete(f"/v1/webhooks/{resp.json()['id']}",
                           headers=headers).status_code in (200, 204)
    listed = stack.api("dgs").get("/v1/webhooks").json()["items"]
    assert not [h for h in listed if h["enabled"] and "10.0.0.5" in h["url"]]


def test_the_name_is_resolved_as_the_client_library_would():
    """IDNA 2008 (what httpx sends), not the resolver's IDNA 2003: one name, one address."""
    asked = []

    def resolve(host, port, type=None):
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    target = check_url("https://aß.example:8443/hook?x=1", Settings.from_env({}),
                       resolve=resolve)
    assert asked == ["xn--a-qfa.example"]
    assert target.url == "https://93.184.215.14:8443/hook?x=1"
    assert (target.host, target.host_header) == ("xn--a-qfa.example", "xn--a-qfa.example:8443")


def test_a_delivery_goes_to_the_address_checked_whatever_dns_says_next(stack):
    """DNS rebinding: the name resolves to a public address when checked, then to the
    hub's own network. The hub resolves once and connects to the address it checked,
    with the name in Host and TLS SNI; redirects are not followed."""
    from consumers.webhooks import Claimed, WebhookDispatcher

    answers = iter(["93.184.215.14", "127.0.0.1", "127.0.0.1"])
    asked, sent = [], []

    def resolve(host, port, type=None):
        asked.append(host)
        if host.endswith(".invalid"):
            raise socket.gaierror("unknown name")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    def receiver(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(302, headers={"location": "http://127.0.0.1/internal"})

    strict = Settings.from_env({"VIGIE_STATE_DIR": str(stack.settings.state_dir)})
    dispatcher = WebhookDispatcher(stack.hub.db, strict, resolve=resolve, http=httpx.Client(
        transport=httpx.MockTransport(receiver), follow_redirects=False))
    ok, status, error = dispatcher.post(Claimed(1, "https://rebind.example/hook",
                                                (new_secret(),), "m1", "1", b"{}", 0))
    assert asked == ["rebind.example"]               # once
    assert [str(r.url) for r in sent] == ["https://93.184.215.14/hook"]
    assert sent[0].headers["host"] == "rebind.example"
    assert sent[0].extensions["sni_hostname"] == "rebind.example"
    assert (ok, status, error) == (False, 302, "HTTP 302")  # not followed
    # The next attempt sees the rebinding, and sends nothing.
    ok, status, error = dispatcher.post(Claimed(1, "https://rebind.example/hook",
                                                (new_secret(),), "m1", "1", b"{}", 1))
    assert (ok, status, error) == (False, None, f"refused: {REFUSED}") and len(sent) == 1
    # An unknown name is recorded the same way: no map of the hub's network.
    assert dispatcher.post(Claimed(1, "https://no-such-host.invalid/hook", (new_secret(),),
                                   "m2", "2", b"{}", 0))[2] == f"refused: {REFUSED}"


def test_secrets_stored_in_clear_are_still_used_then_resealed(stack, receiver):
    """A secret stored before sealing still signs; `vigie data-keys reseal` seals it."""
    from services.sealed import SecretBox
    from services.webhooks.service import reseal

    hook = _register(stack, "dgs", receiver.url)
    receiver.secret = hook["secret"]
    with stack.hub.db.transaction() as session:
        session.get(Webhook, hook["id"]).secret = hook["secret"]  # as stored before
    try:
        item = stack.api("tj-paris").post("/v1/information-requests",
                                          example_request(recipient="dgs")).json()
        receiver.wait(lambda got: any(r["event"]["subject"] == item["id"] for r in got))
        assert receiver.bad_signatures == 0
        box = SecretBox.from_settings(stack.settings)
        with stack.hub.db.transaction() as session:
            assert reseal(session, box)["resealed"] >= 1
            stored = session.get(Webhook, hook["id"]).secret
            assert box.open(stored, hook["id"]) == hook["secret"]
            assert reseal(session, box) == {"resealed": 0, "unopenable": []}
    finally:
        _unregister(stack, "dgs", hook)


def test_the_secret_rotates_with_an_overlap_and_a_ping_checks_it(stack, receiver):
    hook = _register(stack, "dgs", receiver.url)
    receiver.secret = hook["secret"]
    dgs = stack.api("dgs")
    try:
        ping = dgs.post(f"/v1/webhooks/{hook['id']}/ping", key=None)
        assert ping.status_code == 200, ping.text
        assert ping.json() | {"id": None} == {"id": None, "delivered": True,
                                              "status_code": 204, "error": None}
        got = next(r for r in receiver.received if r["id"] == ping.json()["id"])
        described = CONTRACT["x-webhooks"]["ping"]["post"]
        schema = described["requestBody"]["content"]["application/json"]["schema"]
        assert set(got["event"]) == set(schema["required"])
        assert got["event"]["type"] == "fr.gouv.vigie.webhooks.ping"
        assert "vigie-cursor" not in got["headers"]

        rotated = dgs.post(f"/v1/webhooks/{hook['id']}/secret", key=None).json()
        assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]
        # During the overlap both sign: a receiver still on the old secret, or already
        # on the new one, verifies every message.
        for secret in (hook["secret"], rotated["secret"]):
            receiver.secret = secret
            answer = dgs.post(f"/v1/webhooks/{hook['id']}/ping", key=None).json()
            assert answer["delivered"], answer
        sent = next(r for r in receiver.received if r["id"] == answer["id"])
        assert len(sent["headers"]["webhook-signature"].split(" ")) == 2
        for secret in (hook["secret"], rotated["secret"]):
            StandardWebhook(secret).verify(sent["raw"], sent["headers"])
        item = stack.api("tj-paris").post("/v1/information-requests",
                                          example_request(recipient="dgs")).json()
        receiver.wait(lambda got: any(r["event"].get("subject") == item["id"] for r in got))
        # Once the overlap is over, only the new one signs.
        with stack.hub.db.transaction() as session:
            session.get(Webhook, hook["id"]).previous_until = utcnow() - timedelta(seconds=1)
        receiver.secret = hook["secret"]
        refused = dgs.post(f"/v1/webhooks/{hook['id']}/ping", key=None).json()
        assert (refused["delivered"], refused["status_code"]) == (False, 401)
        assert receiver.bad_signatures >= 1
        # Another organisation's endpoint is unknown; nothing is sent.
        for path in ("ping", "secret"):
            assert stack.api("miviludes").post(f"/v1/webhooks/{hook['id']}/{path}",
                                               key=None).status_code == 404
    finally:
        _unregister(stack, "dgs", hook)
