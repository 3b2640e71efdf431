"""A single-node Apache Kafka broker (KRaft) for development and tests.

The broker is the real Apache Kafka server, fetched from Maven Central through
Maven (tools/kafka/pom.xml pins the version) and cached outside the work tree.
Its data and logs live under the state directory; starting twice is harmless.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .config import ROOT, Settings
from .local_process import cache_dir, running_pid, stop_process

POM = ROOT / "tools" / "kafka" / "pom.xml"
LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
"""


class BrokerError(RuntimeError):
    """The local broker could not be fetched, started or reached."""


def kafka_version() -> str:
    text = POM.read_text()
    return text.split("<kafka.version>")[1].split("</kafka.version>")[0]


@dataclass
class LocalBroker:
    settings: Settings

    @property
    def home(self) -> Path:
        return self.settings.state_dir / "kafka"

    @property
    def jars(self) -> Path:
        cache = cache_dir()
        return cache / f"kafka-{kafka_version()}"

    @property
    def jwks_file(self) -> Path:
        return Path(self.settings.kafka_jwks_file or self.home / "jwks.json")

    @property
    def jwks_url(self) -> str:
        return self.jwks_file.resolve().as_uri()

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    def fetch(self) -> Path:
        """Download the broker jars once; later calls use the cache."""
        marker = self.jars / ".complete"
        if marker.exists():
            return self.jars
        if shutil.which("mvn") is None:
            raise BrokerError("Maven (mvn) is needed to fetch the Kafka broker jars")
        tmp = self.jars.with_name(self.jars.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(
            ["mvn", "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"],
            check=True,
        )
        shutil.rmtree(self.jars, ignore_errors=True)
        tmp.rename(self.jars)
        marker.touch()
        return self.jars

    def _write_config(self) -> Path:
        path = self.home / "server.properties"
        path.write_text(self._config_text())
        (self.home / "log4j2.properties").write_text(
            LOG4J2.format(log=self.home / "server.log"))
        return path

    def _config_text(self) -> str:
        s = self.settings
        data = self.home / "data"
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{s.kafka_controller_port}",
            # INTERNAL (plaintext, loopback): the hub's own services and the controller,
            # whose ANONYMOUS principal is the super user. EXTERNAL: recipients, with the
            # hub's OAuth2 tokens and ACLs, nothing allowed where no ACL is found.
            "listeners": f"INTERNAL://127.0.0.1:{s.kafka_port},"
                         f"CONTROLLER://127.0.0.1:{s.kafka_controller_port},"
                         f"EXTERNAL://127.0.0.1:{s.kafka_external_port}",
            "advertised.listeners": f"INTERNAL://127.0.0.1:{s.kafka_port},"
                                    f"EXTERNAL://127.0.0.1:{s.kafka_external_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "INTERNAL",
            "listener.security.protocol.map":
                "INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:SASL_PLAINTEXT",
            "listener.name.external.sasl.enabled.mechanisms": "OAUTHBEARER",
            "listener.name.external.oauthbearer.sasl.jaas.config":
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;",
            "listener.name.external.oauthbearer.sasl.server.callback.handler.class":
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
            "sasl.oauthbearer.jwks.endpoint.url": self.jwks_url,
            "sasl.oauthbearer.jwks.endpoint.refresh.ms": "5000",
            "sasl.oauthbearer.expected.audience": s.kafka_audience,
            "sasl.oauthbearer.expected.issuer": s.issuer,
            "sasl.oauthbearer.sub.claim.name": "sub",
            "sasl.oauthbearer.scope.claim.name": "scope",
            # Sessions re-authenticate at least every 5 minutes (and when their token
            # expires): a disabled client's connection does not outlive its ACLs and token.
            "listener.name.external.oauthbearer.connections.max.reauth.ms": "300000",
            "authorizer.class.name":
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": "User:ANONYMOUS",
            "log.dirs": str(data),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _config_is_current(self) -> bool:
        path = self.home / "server.properties"
        return path.exists() and path.read_text() == self._config_text()

    def pid(self) -> int | None:
        return running_pid(self.pid_file)

    def answers(self, timeout: float = 1.0) -> bool:
        """True when the broker accepts connections and answers a metadata call."""
        try:
            with socket.create_connection(("127.0.0.1", self.settings.kafka_port), timeout):
                pass
        except OSError:
            return False
        from kafka import KafkaAdminClient

        try:
            admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap,
                                     request_timeout_ms=int(timeout * 5000))
            try:
                admin.list_topics()
            finally:
                admin.close()
        except Exception:  # noqa: BLE001 - any failure means "not ready yet"
            return False
        return True

    def start(self, wait_seconds: float = 90) -> dict:
        if self.pid() and self.answers():
            if self._config_is_current():
                return self.status()
            self.stop()  # started with an older configuration
        jars = self.fetch()
        self.home.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        if not self.jwks_file.exists():
            # The broker reads the JWKS at start; the hub rewrites it with its keys.
            self.jwks_file.parent.mkdir(parents=True, exist_ok=True)
            self.jwks_file.write_text('{"keys": []}')
        java = shutil.which("java")
        if java is None:
            raise BrokerError("a Java runtime (17 or later) is needed to run the broker")
        if not (self.home / "data" / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            subprocess.run(
                [java, "-cp", f"{jars}/*",
                 f"-Dlog4j2.configurationFile={self.home}/log4j2.properties",
                 # `--cluster-id=`: a random id may start with "-" (it did, once in 64).
                 "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                 "-c", str(config), "--standalone"],
                check=True, stdout=subprocess.DEVNULL,
            )
        started = time.monotonic()
        with open(self.home / "stdout.log", "ab") as out:
            proc = subprocess.Popen(
                [java, "-Xms256m", "-Xmx512m", "-XX:+UseG1GC",
                 f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={self.jwks_url}",
                 f"-Dlog4j2.configurationFile={self.home}/log4j2.properties",
                 "-cp", f"{jars}/*", "kafka.Kafka", str(config)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = started + wait_seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(f"the broker exited with {proc.returncode}; "
                                  f"see {self.home}/stdout.log")
            if self.answers():
                status = self.status()
                status["start_seconds"] = round(time.monotonic() - started, 2)
                return status
            time.sleep(0.3)
        raise BrokerError(f"the broker did not answer within {wait_seconds}s")

    def stop(self, wait_seconds: float = 30) -> dict:
        return stop_process(self.pid_file, wait_seconds, group=False)

    def status(self) -> dict:
        pid = self.pid()
        status: dict = {"running": pid is not None, "pid": pid,
                        "bootstrap": self.settings.kafka_bootstrap,
                        "version": kafka_version(), "home": str(self.home)}
        if pid:
            try:
                rss_kib = int(next(line.split()[1] for line in
                                   Path(f"/proc/{pid}/status").read_text().splitlines()
                                   if line.startswith("VmRSS")))
                status["rss_mib"] = round(rss_kib / 1024, 1)
            except (OSError, StopIteration):
                pass
            status["answering"] = self.answers()
        return status
