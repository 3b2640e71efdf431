"""Recipients consume their own topic on the real broker with the hub's OAuth2 tokens
(SASL/OAUTHBEARER); ACLs stop them from reading anything else; key rotation keeps
consumers and API calls working."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as ConfluentPartition
from joserfc import jwt
from joserfc.jwk import RSAKey
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)
from kafka.net.sasl.oauth import AbstractTokenProvider

from services.app import create_app
from services.config import ROOT
from services.feed import kafka_access
from services.oauth.keys import rotate
from tests.conftest import (
    build_stack,
    events_for,
    example_notice,
    example_request,
    served_over_http,
    stop_consumers,
)


class HubTokens(AbstractTokenProvider):
    """What a recipient writes: a fresh client-credentials token at each authentication."""

    def __init__(self, stack, org_id: str):
        self.stack, self.org_id = stack, org_id

    def token(self) -> str:
        c = self.stack.creds[self.org_id]
        resp = self.stack.http.post("/oauth/token", auth=(c["client_id"], c["client_secret"]),
                                    data={"grant_type": "client_credentials",
                                          "scope": "feed:read"})
        return resp.json()["access_token"]


class FixedToken(AbstractTokenProvider):
    def __init__(self, value: str):
        self.value = value

    def token(self) -> str:
        return self.value


@pytest.fixture(scope="module")
def kstack(broker, database_factory, tmp_path_factory):
    """A hub whose keys the broker trusts (it publishes them to the broker's JWKS file)."""
    s = build_stack("sqlite", database_factory("sqlite"), tmp_path_factory.mktemp("kafka"),
                    VIGIE_KAFKA_JWKS_FILE=str(broker.jwks_file))
    s.hub.keys.reload()
    with s.hub.db.sessions() as session:
        kafka_access.sync(session, s.settings)
    time.sleep(6)  # the broker refreshes its JWKS every 5 s
    yield s
    stop_consumers(s)


def consumer(stack, provider, bootstrap_timeout_ms: int = 8000, **kwargs) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=stack.settings.kafka_external_bootstrap,
                         security_protocol="SASL_PLAINTEXT", sasl_mechanism="OAUTHBEARER",
                         sasl_oauth_token_provider=provider,
                         bootstrap_timeout_ms=bootstrap_timeout_ms, **kwargs)


def read_topic(c: KafkaConsumer, topic: str, wanted: int, timeout: float = 30) -> list:
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    records, deadline = [], time.monotonic() + timeout
    while len(records) < wanted and time.monotonic() < deadline:
        for batch in c.poll(timeout_ms=500).values():
            records += batch
    return records


def test_connection_info(kstack):
    info = kstack.api("miviludes").get("/v1/feed/kafka").json()
    assert info == {
        "bootstrap_servers": kstack.settings.kafka_external_bootstrap,
        "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "OAUTHBEARER",
        "topic": f"{kstack.settings.topic_prefix}feed.miviludes",
        "group_prefix": "miviludes.",
        "token_endpoint": f"{kstack.settings.public_url}/oauth/token",
        "audience": "vigie-kafka", "scope": "feed:read"}


def test_own_topic_carries_the_feed_in_order(kstack):
    court, miviludes = kstack.api("tj-paris"), kstack.api("miviludes")
    ids = [court.post("/v1/information-requests", example_request()).json()["id"]
           for _ in range(3)]
    feed = miviludes.wait_feed(lambda f: all("submitted" in events_for(f, i) for i in ids))
    topic = miviludes.get("/v1/feed/kafka").json()["topic"]
    c = consumer(kstack, HubTokens(kstack, "miviludes"))
    try:
        records = read_topic(c, topic, len(feed))
    finally:
        c.close()
    on_topic = [json.loads(r.value) for r in records]
    assert [e["cursor"] for e in on_topic] == [e["cursor"] for e in feed]
    assert [e["event"]["id"] for e in on_topic] == [e["event"]["id"] for e in feed]


def test_another_organisations_topic_and_groups_are_refused(kstack):
    own = f"{kstack.settings.topic_prefix}feed.miviludes"
    other = f"{kstack.settings.topic_prefix}feed.dgs"
    kstack.api("tj-paris").post("/v1/information-requests", example_request(recipient="dgs"))
    c = consumer(kstack, HubTokens(kstack, "miviludes"))
    try:
        assert c.topics() == {own}
        assert c.end_offsets([TopicPartition(own, 0)])
        with pytest.raises(TopicAuthorizationFailedError):
            c.end_offsets([TopicPartition(other, 0)])
    finally:
        c.close()
    grouped = consumer(kstack, HubTokens(kstack, "miviludes"), group_id="dgs.stolen",
                       enable_auto_commit=False)
    try:
        grouped.assign([TopicPartition(own, 0)])
        with pytest.raises(GroupAuthorizationFailedError):
            grouped.commit({TopicPartition(own, 0): OffsetAndMetadata(0, "", -1)})
    finally:
        grouped.close()


def _forged(stack, **claims) -> str:
    now = int(time.time())
    body = {"iss": stack.settings.issuer, "aud": ["vigie-api", "vigie-kafka"],
            "sub": stack.creds["miviludes"]["client_id"], "iat": now, "exp": now + 300,
            "scope": "feed:read", **claims}
    return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "unknown"}, body,
                      RSAKey.generate_key(2048))


@pytest.mark.parametrize("token", ["forged", "expired", "none"])
def test_bad_tokens_are_refused_by_the_broker(kstack, token):
    if token == "forged":
        value = _forged(kstack)
    elif token == "expired":
        key = kstack.hub.keys.signing_set().keys[0]
        now = int(time.time())
        value = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": key.kid}, {
            "iss": kstack.settings.issuer, "aud": ["vigie-kafka"], "scope": "feed:read",
            "sub": kstack.creds["miviludes"]["client_id"], "iat": now - 3600,
            "exp": now - 1800}, key)
    else:
        value = ""
    # A valid token connects in well under a second (the tests above); a refused one
    # never does.
    with pytest.raises(KafkaTimeoutError):
        consumer(kstack, FixedToken(value), bootstrap_timeout_ms=3000).topics()


def test_disabling_a_client_removes_its_access(kstack):
    from services.organisations.models import Client
    from services.organisations.service import add_client

    with kstack.hub.db.transaction() as session:
        client, secret = add_client(session, "dgs", ["feed:read"])
        client_id = client.client_id
    kstack.creds["dgs-second"] = {"client_id": client_id, "client_secret": secret,
                                  "org_id": "dgs", "scopes": ["feed:read"]}
    with kstack.hub.db.sessions() as session:
        kafka_access.sync(session, kstack.settings, [client_id])
    topic = f"{kstack.settings.topic_prefix}feed.dgs"
    c = consumer(kstack, HubTokens(kstack, "dgs-second"))
    try:
        assert c.topics() == {topic}
    finally:
        c.close()
    with kstack.hub.db.transaction() as session:
        session.get(Client, client_id).enabled = False
    with kstack.hub.db.sessions() as session:
        kafka_access.sync(session, kstack.settings, [client_id])
    # The client can no longer get tokens, and a token it still holds reads nothing.
    key = kstack.hub.keys.signing_set().keys[0]
    now = int(time.time())
    held = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": key.kid}, {
        "iss": kstack.settings.issuer, "aud": ["vigie-api", "vigie-kafka"], "sub": client_id,
        "iat": now, "exp": now + 300, "scope": "feed:read"}, key)
    c = consumer(kstack, FixedToken(held))
    try:
        assert c.topics() == set()
        with pytest.raises(TopicAuthorizationFailedError):
            c.end_offsets([TopicPartition(topic, 0)])
    finally:
        c.close()


def test_consumption_and_api_calls_continue_across_a_key_rotation(kstack):
    court, miviludes = kstack.api("tj-lyon"), kstack.api("miviludes")
    topic = f"{kstack.settings.topic_prefix}feed.miviludes"
    old_token = miviludes.token
    old_kid = kstack.hub.keys.signing_set().keys[0].kid
    running = consumer(kstack, HubTokens(kstack, "miviludes"))
    try:
        before = len(read_topic(running, topic, 1))
        result = rotate(kstack.hub.db, publish_wait_seconds=7, on_change=kstack.hub.keys.reload)
        assert result["retired"] == [old_kid] and result["active"] != old_kid
        # The old token (old key, still published) and a new one both work on the API.
        assert kstack.http.get("/v1/feed", headers={"Authorization": f"Bearer {old_token}"}
                               ).status_code == 200
        kstack._tokens.clear()
        fresh = kstack.api("miviludes")
        assert fresh.get("/v1/feed").status_code == 200
        assert kstack.hub.keys.signing_set().keys[0].kid == result["active"]
        # The running consumer keeps receiving; a new consumer with a new-key token reads.
        item = court.post("/v1/information-requests", example_request()).json()
        miviludes.wait_delivered(item["id"])
        after = []
        deadline = time.monotonic() + 30
        while len(after) == 0 and time.monotonic() < deadline:
            for batch in running.poll(timeout_ms=500).values():
                after += batch
        assert after, "the running consumer stopped receiving"
        new = consumer(kstack, HubTokens(kstack, "miviludes"))
        try:
            assert len(read_topic(new, topic, before + 1)) >= before + 1
        finally:
            new.close()
    finally:
        running.close()


@contextmanager
def served(stack) -> Iterator[str]:
    """The stack's hub over real HTTP (as a Kafka client fetches its tokens): the token
    endpoint's URL."""
    with served_over_http(create_app(stack.settings, stack.hub)) as base:
        yield f"{base}/oauth/token"


def test_hub_client_configuration_for_an_oauth_cluster(kstack):
    """The configuration every hub producer, consumer and admin client takes, pointed at
    a SASL/OAUTHBEARER listener: tokens come from a real token endpoint over HTTP."""
    import dataclasses

    from services.messaging.kafka_client import client_config

    with served(kstack) as token_url:
        creds = kstack.creds["miviludes"]
        settings = dataclasses.replace(
            kstack.settings, kafka_bootstrap=kstack.settings.kafka_external_bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_oauth_token_url=token_url,
            kafka_oauth_client_id=creds["client_id"],
            kafka_oauth_client_secret=creds["client_secret"], kafka_oauth_scope="feed:read")
        config = client_config(settings)
        assert config["sasl_mechanism"] == "OAUTHBEARER"
        kstack.api("tj-paris").post("/v1/information-requests", example_request())
        kstack.api("miviludes").wait_feed(lambda f: len(f) > 0)
        c = KafkaConsumer(**config, bootstrap_timeout_ms=8000)
        try:
            records = read_topic(c, f"{kstack.settings.topic_prefix}feed.miviludes", 1)
        finally:
            c.close()
        assert records and json.loads(records[0].value)["cursor"] == "1"
    with pytest.raises(ValueError, match="VIGIE_KAFKA_OAUTH_TOKEN_URL"):
        client_config(dataclasses.replace(settings, kafka_oauth_token_url=""))
    with pytest.raises(ValueError, match="SECURITY_PROTOCOL"):
        client_config(dataclasses.replace(settings, kafka_security_protocol="TLS"))
    mtls = client_config(dataclasses.replace(
        settings, kafka_security_protocol="SSL", kafka_ssl_cafile="/ca.pem",
        kafka_ssl_certfile="/tls.crt", kafka_ssl_keyfile="/tls.key"))
    assert (mtls["ssl_cafile"], mtls["ssl_certfile"], mtls["ssl_keyfile"]) == (
        "/ca.pem", "/tls.crt", "/tls.key") and "sasl_mechanism" not in mtls


GUIDE = ROOT / "docs" / "platform-integrator.md"
JAVA_CONSUMER = Path(__file__).parent / "java" / "FeedConsumer.java"
PLATFORM = "plateforme-alpha"  # the organisation the guide's settings name


def guide_settings(client: str) -> dict[str, str]:
    """The consumer settings the platform guide gives for `client` ("Java" or
    "librdkafka"), read as a properties file reads them (continued lines joined)."""
    blocks = re.findall(r"```properties\n(.*?)```", GUIDE.read_text(), re.S)
    block = re.sub(r"\\\n\s*", "", next(b for b in blocks if b.startswith(f"# {client}")))
    return dict(line.split("=", 1) for line in block.splitlines()
                if line.strip() and not line.startswith("#"))


def as_run_here(settings: dict[str, str], token_url: str, stack) -> dict[str, str]:
    """The guide's settings with what differs on this machine: the broker's address, its
    plaintext listener (no TLS here), the token endpoint, the client's credentials and a
    group of its own; every other setting as the guide writes it."""
    here = {"bootstrap.servers": stack.settings.kafka_external_bootstrap,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.oauthbearer.token.endpoint.url": token_url}
    assert here.keys() <= settings.keys() and settings["group.id"].startswith(f"{PLATFORM}.")
    return {**settings, **here, "group.id": f"{settings['group.id']}-{uuid.uuid4().hex[:6]}"}


@pytest.fixture(scope="module")
def platform_feed(kstack) -> tuple[str, list[dict]]:
    """The platform's topic, and its feed once two notices are in it."""
    flagger = kstack.api("vigilance-alpha")
    ids = [flagger.post("/v1/content-notices", example_notice(recipient=PLATFORM)).json()["id"]
           for _ in range(2)]
    feed = kstack.api(PLATFORM).wait_feed(
        lambda f: all("submitted" in events_for(f, i) for i in ids))
    return kstack.api(PLATFORM).get("/v1/feed/kafka").json()["topic"], feed


def test_the_guides_java_settings_consume_the_platforms_topic(kstack, broker, platform_feed,
                                                             tmp_path):
    """The guide's Java settings, in the Apache Kafka client the broker ships (its
    OAuthBearerLoginCallbackHandler fetches the hub's token over HTTP)."""
    topic, feed = platform_feed
    creds = kstack.creds[PLATFORM]
    with served(kstack) as token_url:
        settings = as_run_here(guide_settings("Java"), token_url, kstack)
        jaas = settings["sasl.jaas.config"]
        assert f'clientId="{PLATFORM}-' in jaas and 'scope="feed:read"' in jaas
        settings["sasl.jaas.config"] = re.sub(
            r'clientSecret="[^"]*"', f'clientSecret="{creds["client_secret"]}"',
            re.sub(r'clientId="[^"]*"', f'clientId="{creds["client_id"]}"', jaas))
        properties = tmp_path / "consumer.properties"  # holds the client's secret
        properties.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        # The JVM property the guide names for Kafka 4.x.
        run = subprocess.run(
            ["java", "-cp", f"{broker.fetch()}/*",
             f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={token_url}",
             str(JAVA_CONSUMER), str(properties), topic, str(len(feed))],
            capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    on_topic = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [e["cursor"] for e in on_topic] == [e["cursor"] for e in feed], run.stderr[-3000:]
    assert [e["event"]["id"] for e in on_topic] == [e["event"]["id"] for e in feed]


def test_the_guides_librdkafka_settings_consume_the_platforms_topic(kstack, platform_feed):
    """The guide's librdkafka settings (confluent-kafka-python's bundled librdkafka, its
    OIDC client fetching the hub's token over HTTP); the offsets it commits are its
    group's."""
    topic, feed = platform_feed
    creds = kstack.creds[PLATFORM]
    with served(kstack) as token_url:
        settings = as_run_here(guide_settings("librdkafka"), token_url, kstack)
        assert settings["sasl.oauthbearer.client.id"].startswith(f"{PLATFORM}-")
        settings |= {"sasl.oauthbearer.client.id": creds["client_id"],
                     "sasl.oauthbearer.client.secret": creds["client_secret"]}
        consumer = Consumer(settings)
        try:
            consumer.subscribe([topic])
            records, deadline = [], time.monotonic() + 60
            while len(records) < len(feed) and time.monotonic() < deadline:
                record = consumer.poll(0.5)
                if record is not None:
                    assert record.error() is None, record.error()
                    records.append(json.loads(record.value()))
            consumer.commit(asynchronous=False)
            committed = consumer.committed([ConfluentPartition(topic, 0)], timeout=10)
        finally:
            consumer.close()
    assert [e["cursor"] for e in records] == [e["cursor"] for e in feed]
    assert [e["event"]["id"] for e in records] == [e["event"]["id"] for e in feed]
    assert committed[0].offset == len(feed)
