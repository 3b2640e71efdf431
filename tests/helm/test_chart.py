"""The Helm chart: `helm lint --strict`, `helm template` with the default, production-like
and mTLS values, every rendered manifest validated against the Kubernetes schemas
(kubernetes-validate), and what the schemas cannot see: hardening of every container,
secrets by reference only, and custom resources that match what they describe."""

from __future__ import annotations

import json
import subprocess
from functools import cache

import kubernetes_validate
import pytest
import yaml

from services.config import ROOT

CHART = ROOT / "helm" / "vigie"
KUBE_VERSION = "1.31.0"
VALUES = {"default": [], "production": ["-f", str(CHART / "ci" / "production-values.yaml")],
          "mtls": ["-f", str(CHART / "ci" / "mtls-values.yaml")]}
CUSTOM = {"monitoring.coreos.com/v1", "kafka.strimzi.io/v1beta2"}


@cache
def helm() -> str:
    return subprocess.run([str(ROOT / "tools" / "helm.sh")], check=True, capture_output=True,
                          text=True).stdout.strip()


def run_helm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([helm(), *args], capture_output=True, text=True)


@cache
def rendered(values: str) -> tuple[dict, ...]:
    done = run_helm("template", "vigie", str(CHART), "--namespace", "vigie",
                    "--kube-version", KUBE_VERSION, *VALUES[values])
    assert done.returncode == 0, done.stderr
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def of_kind(values: str, kind: str) -> list[dict]:
    return [d for d in rendered(values) if d["kind"] == kind]


def pod_specs(values: str) -> list[tuple[str, dict]]:
    out = [(d["metadata"]["name"], d["spec"]["template"]["spec"])
           for d in rendered(values) if d["kind"] in ("Deployment", "Job")]
    out += [(d["metadata"]["name"], d["spec"]["jobTemplate"]["spec"]["template"]["spec"])
            for d in rendered(values) if d["kind"] == "CronJob"]
    assert out
    return out


@pytest.mark.parametrize("values", VALUES)
def test_lint_strict(values):
    done = run_helm("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION,
                    *VALUES[values])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("values", VALUES)
def test_every_manifest_is_valid_for_kubernetes(values):
    checked = 0
    for doc in rendered(values):
        if doc["apiVersion"] in CUSTOM:
            continue
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        checked += 1
    assert checked >= 15


@pytest.mark.parametrize("values", VALUES)
def test_every_container_is_hardened(values):
    for name, spec in pod_specs(values):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            assert set(c["resources"]) == {"requests", "limits"}, name
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), name
            mounts = {m["mountPath"] for m in c["volumeMounts"]}
            assert "/tmp" in mounts, name  # the only writable place
            # Jobs run to completion: probes are for the long-running pods.
            if not name.endswith((*(f"-migrate-{n}" for n in range(1, 10)), "-retention",
                                  "-audit-verify", "-log-witness")):
                assert "livenessProbe" in c and "readinessProbe" in c, name


@pytest.mark.parametrize("values", VALUES)
def test_secrets_only_by_reference(values):
    assert not of_kind(values, "Secret")
    for name, spec in pod_specs(values):
        for c in spec["containers"]:
            if name.endswith("-log-witness"):
                # The witness holds no database credentials (its own test says what).
                assert "env" not in c
                continue
            env = {e["name"]: e for e in c["env"]}
            assert "valueFrom" in env["VIGIE_DATABASE_URL"]
            for e in env.values():
                if not any(w in e["name"] for w in ("SECRET", "PASSWORD", "DATABASE_URL")):
                    continue
                if e["name"].endswith("_FILE"):
                    # A file of a Secret mounted read-only, never the secret itself.
                    assert e["value"].startswith("/etc/vigie/"), e["name"]
                else:
                    assert "value" not in e and "secretKeyRef" in e["valueFrom"], e["name"]


def test_api_and_each_consumer_role_deploy_apart():
    deployments = {d["metadata"]["name"]: d for d in of_kind("production", "Deployment")}
    args = {name: d["spec"]["template"]["spec"]["containers"][0]["args"]
            for name, d in deployments.items()}
    assert args["vigie-vigie-api"][0] == "serve"
    roles = {name: a[a.index("--roles") + 1] for name, a in args.items() if a[0] == "consumers"}
    assert roles == {"vigie-vigie-relay": "relay,witness,erasure",
                     "vigie-vigie-webhooks": "webhooks,notices"}
    # Autoscaled Deployments leave their replica count to the HPA.
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind("production",
                                                                 "HorizontalPodAutoscaler")}
    assert hpas == {"vigie-vigie-api"} <= set(deployments)
    for name in hpas:
        assert "replicas" not in deployments[name]["spec"]
    # Each PodDisruptionBudget selects the pods of one Deployment.
    for pdb in of_kind("production", "PodDisruptionBudget"):
        wanted = pdb["spec"]["selector"]["matchLabels"]
        matching = [n for n, d in deployments.items()
                    if wanted.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matching) == 1, pdb["metadata"]["name"]


def _env(workload: dict) -> dict:
    return {e["name"]: e for e in workload["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_migrations_run_as_a_hook_before_the_pods():
    (job,) = of_kind("production", "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]


def test_retention_is_purged_every_day_as_the_hubs_role():
    crons = {c["metadata"]["name"].rsplit("-", 1)[-1]: c for c in of_kind("production",
                                                                         "CronJob")}
    assert set(crons) == {"retention", "verify", "witness"}
    audit = crons["verify"]
    assert audit["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
        "args"] == ["audit", "verify"]
    cron = crons["retention"]
    assert cron["spec"]["schedule"] == "17 3 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["retention", "purge"]
    (deployment,) = [d for d in of_kind("production", "Deployment")
                     if d["metadata"]["name"].endswith("-api")]
    api_env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]
               ["env"]}
    env = {e["name"]: e for e in container["env"]}
    assert env["VIGIE_DATABASE_URL"] == api_env["VIGIE_DATABASE_URL"]  # not the owner's


def test_the_pods_run_as_a_role_that_owns_nothing():
    """Two secrets: the migration Job connects as the schema's owner and grants the hub's
    role; every pod connects as that role (it cannot drop the log's triggers)."""
    (job,) = of_kind("production", "Job")
    job_env = _env(job)
    assert job_env["VIGIE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == \
        "vigie-postgresql-owner"
    assert job_env["VIGIE_HUB_DATABASE_ROLE"]["value"] == "vigie_hub"
    for deployment in of_kind("production", "Deployment"):
        env = _env(deployment)
        assert env["VIGIE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == \
            "vigie-postgresql-hub", deployment["metadata"]["name"]
        assert "VIGIE_HUB_DATABASE_ROLE" not in env
        assert env["VIGIE_LOG_KEYS_FILE"]["value"] == "/etc/vigie/log-keys/log-keys.json"
        assert env["VIGIE_LOG_KEYS_FILE"]["value"] != env["VIGIE_SIGNING_KEYS_FILE"]["value"]
        # Webhook secrets are sealed with keys every pod mounts from one Secret.
        assert env["VIGIE_DATA_KEYS_FILE"]["value"] == "/etc/vigie/data-keys/data-keys.json"
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        assert {"name": "data-keys", "secret": {"secretName": "vigie-data-keys",
                                                "defaultMode": 0o440}} in volumes


def test_external_kafka_identity_and_keys_configuration():
    env = {e["name"]: e for e in
           of_kind("production", "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
           ["env"]}
    assert env["VIGIE_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["VIGIE_KAFKA_OAUTH_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == \
        "vigie-kafka-oauth"
    assert env["VIGIE_KAFKA_SSL_CAFILE"]["value"] == "/etc/vigie/kafka-tls/ca.crt"
    assert env["VIGIE_SIGNING_KEYS_FILE"]["value"].startswith("/etc/vigie/signing-keys/")
    assert env["VIGIE_EXTERNAL_ISSUER"]["value"].startswith("https://")
    mtls = {e["name"]: e.get("value") for e in of_kind("mtls", "Deployment")[0]["spec"][
        "template"]["spec"]["containers"][0]["env"]}
    assert mtls["VIGIE_KAFKA_SECURITY_PROTOCOL"] == "SSL"
    assert mtls["VIGIE_KAFKA_SSL_CERTFILE"] == "/etc/vigie/kafka-tls/user.crt"
    assert "VIGIE_KAFKA_OAUTH_TOKEN_URL" not in mtls


def test_the_logs_independent_witness_keeps_its_state_apart():
    (job,) = [d for d in of_kind("production", "CronJob")
              if d["metadata"]["name"].endswith("-log-witness")]
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert args[:2] == ["log", "witness"]
    assert args[args.index("--url") + 1] == "https://vigie.justice.example.invalid"
    assert args[args.index("--state") + 1].startswith("/var/lib/vigie-witness/")
    assert args[args.index("--keys") + 1].startswith("/etc/vigie/log-keys-pinned/")
    # Through the public API only: no database, no hub secret.
    assert "env" not in container
    volumes = {v["name"]: v for v in pod["volumes"]}
    (claim,) = [d for d in of_kind("production", "PersistentVolumeClaim")
                if d["metadata"]["name"].endswith("-log-witness")]
    assert volumes["state"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert volumes["secret"]["secret"]["secretName"] == "vigie-log-witness"
    assert not [d for d in of_kind("mtls", "CronJob")
                if d["metadata"]["name"].endswith("-log-witness")]


def test_traces_go_to_the_configured_collector():
    for kind in ("Deployment",):
        for doc in of_kind("production", kind):
            env = {e["name"]: e.get("value") for e in
                   doc["spec"]["template"]["spec"]["containers"][0]["env"]}
            assert env["VIGIE_OTLP_ENDPOINT"] == \
                "http://otel-collector.observability.svc:4318", doc["metadata"]["name"]
            assert env["VIGIE_OTEL_SERVICE_NAME"] == "vigie"
    for policy in of_kind("production", "NetworkPolicy"):
        ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
        assert 4318 in ports, policy["metadata"]["name"]
    # Off unless configured: no variable, no port.
    for doc in of_kind("mtls", "Deployment"):
        names = {e["name"] for e in doc["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert "VIGIE_OTLP_ENDPOINT" not in names


def test_missing_required_values_are_refused():
    done = run_helm("template", "vigie", str(CHART), "--kube-version", KUBE_VERSION,
                    "--set", "kafka.securityProtocol=SASL_SSL")
    assert done.returncode != 0 and "kafka.oauth.tokenUrl is required" in done.stderr
    done = run_helm("template", "vigie", str(CHART), "--kube-version", KUBE_VERSION,
                    "--set", "externalIdentityProvider.jwksUrl=https://idp.example/jwks")
    assert done.returncode != 0 and "externalIdentityProvider.issuer is required" in done.stderr


def test_monitoring_resources_match_what_they_describe():
    (rule,) = of_kind("production", "PrometheusRule")
    alerts = yaml.safe_load((CHART / "files" / "prometheus" / "alerts.yaml").read_text())
    assert rule["spec"] == alerts
    (monitor,) = of_kind("production", "ServiceMonitor")
    services = of_kind("production", "Service")
    ports = {p["name"] for s in services for p in s["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    selected = [s for s in services if monitor["spec"]["selector"]["matchLabels"].items()
                <= s["metadata"]["labels"].items()]
    assert len(selected) == 3  # the API and each consumers Deployment (relay, webhooks)
    boards = [c for c in of_kind("production", "ConfigMap")
              if c["metadata"]["labels"].get("grafana_dashboard") == "1"]
    files = sorted(p.name for p in (CHART / "files" / "dashboards").glob("*.json"))
    assert sorted(k for c in boards for k in c["data"]) == files
    for c in boards:
        for text in c["data"].values():
            assert json.loads(text)["panels"]


def test_container_file_builds_what_the_chart_runs():
    text = (ROOT / "Containerfile").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert f"USER {values['podSecurityContext']['runAsUser']}" in text
    assert 'ENTRYPOINT ["vigie"]' in text
    assert "tests" in (ROOT / ".dockerignore").read_text().split()


def test_container_file_copies_every_package_and_the_contract():
    import tomllib

    text = (ROOT / "Containerfile").read_text()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    for package in [p.rstrip("*") for p in packages] + ["openapi"]:
        assert f"COPY {package} ./{package}" in text, package


def test_api_workers_and_writer_process_share_metrics():
    def api_env(*args: str) -> dict:
        done = run_helm("template", "vigie", str(CHART), "--kube-version", KUBE_VERSION, *args)
        assert done.returncode == 0, done.stderr
        api = next(d for d in yaml.safe_load_all(done.stdout)
                   if d and d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-api"))
        return {e["name"] for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}

    assert "PROMETHEUS_MULTIPROC_DIR" in api_env()
    assert "PROMETHEUS_MULTIPROC_DIR" in api_env("--set", "api.workers=3")


def test_documents_go_to_the_bucket_and_records_are_sealed_by_reference():
    """The S3 store's credentials and the seal's key come from Secrets, by reference; the
    pods have room to spool an upload."""
    for deployment in of_kind("production", "Deployment"):
        env = _env(deployment)
        assert env["VIGIE_DOCUMENT_STORE"]["value"] == "s3"
        assert env["VIGIE_DOCUMENT_S3_BUCKET"]["value"] == "vigie-documents-prod"
        assert env["VIGIE_DOCUMENT_S3_ENDPOINT"]["value"].startswith("https://")
        for name in ("VIGIE_DOCUMENT_S3_ACCESS_KEY", "VIGIE_DOCUMENT_S3_SECRET_KEY"):
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "vigie-documents-s3"
        assert env["VIGIE_SEAL_CERT_FILE"]["value"] == "/etc/vigie/seal/seal-cert.pem"
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        assert {"name": "seal", "secret": {"secretName": "vigie-seal-qualifie",
                                           "defaultMode": 0o440}} in volumes
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}} in volumes
    done = run_helm("template", "vigie", str(CHART), "--kube-version", KUBE_VERSION,
                    "--set", "documents.s3.existingSecret=")
    assert done.returncode != 0 and "documents.s3.existingSecret is required" in done.stderr


def test_the_console_has_its_own_host_and_its_secrets_by_reference():
    """The console: served by the API pods on a host of its own (its cookies never reach
    the API's host), its OIDC client secret and session key mounted from a Secret, the
    agents' notices sent by a consumer role through the configured SMTP relay."""
    ingresses = {i["metadata"]["name"]: i for i in of_kind("production", "Ingress")}
    console = ingresses["vigie-vigie-console"]
    rule = console["spec"]["rules"][0]
    assert rule["host"] == "console.vigie.justice.example.invalid"
    assert [p["path"] for p in rule["http"]["paths"]] == ["/console"]
    assert "/console" not in [p["path"] for p in
                              ingresses["vigie-vigie"]["spec"]["rules"][0]["http"]["paths"]]
    api = next(d for d in of_kind("production", "Deployment")
               if d["metadata"]["name"] == "vigie-vigie-api")
    env = _env(api)
    assert env["VIGIE_CONSOLE_URL"]["value"] == "https://console.vigie.justice.example.invalid"
    assert env["VIGIE_CONSOLE_OIDC_ISSUER"]["value"].startswith("https://")
    assert env["VIGIE_CONSOLE_SECURE_COOKIES"]["value"] == "1"
    assert env["VIGIE_CONSOLE_SESSION_KEY_FILE"]["value"] == "/etc/vigie/console/session-key"
    volumes = api["spec"]["template"]["spec"]["volumes"]
    assert {"name": "console", "secret": {"secretName": "vigie-console",
                                          "defaultMode": 0o440}} in volumes
    notices = [d for d in of_kind("production", "Deployment")
               if "notices" in " ".join(d["spec"]["template"]["spec"]["containers"][0]
                                        .get("args", []))]
    assert notices and _env(notices[0])["VIGIE_SMTP_HOST"]["value"] == \
        "smtp.justice.example.invalid"
    assert not [i for i in of_kind("default", "Ingress") if i["metadata"]["name"].endswith(
        "console")]
    done = run_helm("template", "vigie", str(CHART), "--kube-version", KUBE_VERSION,
                    "--set", "console.enabled=true")
    assert done.returncode != 0 and "console.oidc.issuer is required" in done.stderr
