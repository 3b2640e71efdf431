"""A local OpenID Connect provider for development and tests: Keycloak, the real
server, fetched from Maven Central (`org.keycloak:keycloak-quarkus-dist`) and run on a
Java 21+ runtime, with a realm of the demo agents (`.vigie/dev-agents.json`).

The realm is what a ministry's provider (ProConnect) would be to the console: it proves
who signs in — password, and a TOTP second factor for signatories, reported in the ID
token's `amr` claim — and nothing else; organisations and roles are the hub's registry
(services/console/agents.py). Its data live under the state directory; a changed realm
file is imported afresh (development data only)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .local_process import cache_dir, running_pid, stop_process

VERSION = "26.7.3"
REALM = "vigie"
_JAVA_MIN = 21


class IdentityProviderError(RuntimeError):
    """The local identity provider could not be fetched, started or reached."""


def realm(agents: list[dict], client_id: str, client_secret: str,
          redirect_uris: list[str], reusable_codes: bool = False) -> dict:
    """The realm: the console as a confidential client (authorization code with PKCE),
    the agents with their passwords and, for signatories, a TOTP credential; the browser
    flow asks the second factor of whoever has one, and says so in `amr`. A TOTP code is
    good once (`reusable_codes`: within its 30 s, for tests that sign the same agent in
    several times)."""
    users = []
    for a in agents:
        first, _, last = a["name"].partition(" ")
        credentials = [{"type": "password", "value": a["password"], "temporary": False}]
        if a.get("totp_secret"):
            credentials.append({
                "type": "otp", "userLabel": "Vigie",
                "secretData": json.dumps({"value": a["totp_secret"]}),
                "credentialData": json.dumps({"subType": "totp", "digits": 6, "counter": 0,
                                              "period": 30, "algorithm": "HmacSHA1"})})
        users.append({"id": a["sub"], "username": a["username"], "enabled": True,
                      "email": a.get("email"), "emailVerified": True, "firstName": first,
                      "lastName": last or first, "credentials": credentials})
    return {
        "realm": REALM, "enabled": True, "displayName": "Vigie — agents",
        "internationalizationEnabled": True, "supportedLocales": ["fr"],
        "defaultLocale": "fr", "sslRequired": "external", "bruteForceProtected": True,
        "failureFactor": 10, "accessTokenLifespan": 300, "ssoSessionIdleTimeout": 1800,
        "ssoSessionMaxLifespan": 36000,
        "otpPolicyType": "totp", "otpPolicyAlgorithm": "HmacSHA1", "otpPolicyDigits": 6,
        "otpPolicyPeriod": 30, "otpPolicyLookAheadWindow": 1,
        "otpPolicyCodeReusable": reusable_codes,
        "browserFlow": "vigie browser",
        "authenticationFlows": _browser_flow(),
        "authenticatorConfig": [
            # maxAge: how long after the step `amr` still names it; left at 0, Keycloak
            # named it only in a token issued within the same second (sign-ins without
            # `otp` in amr, now and then).
            {"alias": "amr-pwd", "config": {"default.reference.value": "pwd",
                                            "default.reference.maxAge": "36000"}},
            {"alias": "amr-otp", "config": {"default.reference.value": "otp",
                                            "default.reference.maxAge": "36000"}},
        ],
        "clients": [{
            "clientId": client_id, "name": "Console Vigie", "enabled": True,
            "protocol": "openid-connect", "publicClient": False, "secret": client_secret,
            "clientAuthenticatorType": "client-secret", "standardFlowEnabled": True,
            "implicitFlowEnabled": False, "directAccessGrantsEnabled": False,
            "serviceAccountsEnabled": False, "redirectUris": redirect_uris,
            "webOrigins": [], "frontchannelLogout": False,
            "attributes": {"pkce.code.challenge.method": "S256",
                           "post.logout.redirect.uris": "##".join(
                               u.rsplit("/auth/", 1)[0] + "/*" for u in redirect_uris)},
            "protocolMappers": [{
                "name": "amr", "protocol": "openid-connect",
                "protocolMapper": "oidc-amr-mapper",
                "config": {"id.token.claim": "true", "access.token.claim": "true",
                           "introspection.token.claim": "true"}}],
        }],
        "users": users,
    }


def _browser_flow() -> list[dict]:
    def step(authenticator: str, requirement: str, priority: int, config: str | None = None,
             flow: str | None = None) -> dict:
        out = {"requirement": requirement, "priority": priority, "userSetupAllowed": False,
               "autheticatorFlow": flow is not None}
        if flow is not None:
            out["flowAlias"] = flow
        else:
            out["authenticator"] = authenticator
        if config:
            out["authenticatorConfig"] = config
        return out

    def flow(alias: str, executions: list[dict], top: bool = False) -> dict:
        return {"alias": alias, "description": "", "providerId": "basic-flow",
                "topLevel": top, "builtIn": False, "authenticationExecutions": executions}

    return [
        flow("vigie browser", [
            step("auth-cookie", "ALTERNATIVE", 10),
            step("", "ALTERNATIVE", 20, flow="vigie forms"),
        ], top=True),
        flow("vigie forms", [
            step("auth-username-password-form", "REQUIRED", 10, "amr-pwd"),
            step("", "CONDITIONAL", 20, flow="vigie second factor"),
        ]),
        flow("vigie second factor", [
            step("conditional-user-configured", "REQUIRED", 10),
            step("auth-otp-form", "REQUIRED", 20, "amr-otp"),
        ]),
    ]


def java_home() -> Path:
    """A Java runtime recent enough for Keycloak (21+): VIGIE_IDP_JAVA_HOME, else the
    newest JDK under /usr/lib/jvm (the machine's default may be 17)."""
    named = os.environ.get("VIGIE_IDP_JAVA_HOME")
    candidates = [Path(named)] if named else sorted(
        Path("/usr/lib/jvm").glob("*"), key=lambda p: _major(p), reverse=True)
    for home in candidates:
        if (home / "bin" / "java").exists() and _major(home) >= _JAVA_MIN:
            return home
    raise IdentityProviderError(f"Keycloak {VERSION} needs Java {_JAVA_MIN} or later; none "
                                "under /usr/lib/jvm (set VIGIE_IDP_JAVA_HOME)")


def _major(home: Path) -> int:
    try:
        text = (home / "release").read_text()
    except OSError:
        return 0
    match = re.search(r'JAVA_VERSION="(\d+)', text)
    return int(match[1]) if match else 0


@dataclass
class LocalIdentityProvider:
    settings: Settings

    @property
    def home(self) -> Path:
        return self.settings.state_dir / "keycloak"

    @property
    def dist(self) -> Path:
        cache = cache_dir()
        return cache / f"keycloak-{VERSION}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.idp_port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "keycloak.pid"

    def fetch(self) -> Path:
        """The server's distribution from Maven Central, unpacked once into the cache."""
        marker = self.dist / ".complete"
        if marker.exists():
            return self.dist / f"keycloak-{VERSION}"
        if shutil.which("mvn") is None:
            raise IdentityProviderError("Maven (mvn) is needed to fetch Keycloak")
        tmp = self.dist.with_name(self.dist.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        subprocess.run(
            ["mvn", "-B", "-q", "-f", str(Path(__file__).parent.parent / "tools" / "kafka"
                                          / "pom.xml"),
             "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
             f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{VERSION}:zip",
             f"-DoutputDirectory={tmp}"], check=True)
        archive = tmp / f"keycloak-quarkus-dist-{VERSION}.zip"
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
        archive.unlink()
        for script in (tmp / f"keycloak-{VERSION}" / "bin").glob("*.sh"):
            script.chmod(0o755)
        shutil.rmtree(self.dist, ignore_errors=True)
        tmp.rename(self.dist)
        marker.touch()
        return self.dist / f"keycloak-{VERSION}"

    def pid(self) -> int | None:
        return running_pid(self.pid_file)

    def start(self, wait_seconds: float = 180) -> dict:
        """Start the server (its development database under the state directory) or
        keep the one running."""
        if self.pid() and self._master_answers():
            return self.status()
        self.stop()
        server = self.fetch()
        self.home.mkdir(parents=True, exist_ok=True)
        java = java_home()
        env = {**os.environ, "JAVA_HOME": str(java),
               "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
               "KC_BOOTSTRAP_ADMIN_PASSWORD": _admin_password(self.home),
               "JAVA_OPTS_KC_HEAP": "-Xms128m -Xmx512m"}
        started = time.monotonic()
        with open(self.home / "keycloak.log", "ab") as out:
            proc = subprocess.Popen(
                [str(server / "bin" / "kc.sh"), "start-dev", "--http-host=127.0.0.1",
                 f"--http-port={self.settings.idp_port}", "--db=dev-file",
                 f"--db-url=jdbc:h2:file:{self.home / 'data' / 'keycloakdb'}"
                 ";NON_KEYWORDS=VALUE", "--health-enabled=false", "--log-level=warn"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                cwd=self.home, start_new_session=True)
        self.pid_file.write_text(str(proc.pid))
        deadline = started + wait_seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise IdentityProviderError(f"Keycloak exited with {proc.returncode}; see "
                                            f"{self.home}/keycloak.log")
            if self._master_answers():
                status = self.status()
                status["start_seconds"] = round(time.monotonic() - started, 1)
                return status
            time.sleep(0.5)
        raise IdentityProviderError(f"Keycloak did not answer within {wait_seconds}s; see "
                                    f"{self.home}/keycloak.log")

    def ensure_realm(self, realm_json: dict) -> bool:
        """The realm as given, through the provider's admin API: kept when it is the one
        imported last, replaced otherwise (development data only). True when imported."""
        digest = hashlib.sha256(json.dumps(realm_json, sort_keys=True).encode()).hexdigest()
        name = realm_json["realm"]
        stamp = self.home / f"realm-{name}.sha256"
        exists = self._admin("GET", f"/admin/realms/{name}", ok=(200, 404)) == 200
        if exists and stamp.exists() and stamp.read_text() == digest:
            return False
        if exists:
            self._admin("DELETE", f"/admin/realms/{name}")
        self._admin("POST", "/admin/realms", realm_json, ok=(201,))
        stamp.write_text(digest)
        return True

    def _master_answers(self) -> bool:
        try:
            with urllib.request.urlopen(
                    f"{self.url}/realms/master/.well-known/openid-configuration",
                    timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def _admin(self, method: str, path: str, body: dict | None = None,
               ok: tuple[int, ...] = (200, 204)) -> int:
        form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli",
                                       "username": "admin",
                                       "password": _admin_password(self.home)}).encode()
        with urllib.request.urlopen(f"{self.url}/realms/master/protocol/openid-connect/token",
                                    form, timeout=30) as resp:
            token = json.load(resp)["access_token"]
        request = urllib.request.Request(
            self.url + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {token}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                status = resp.status
        except urllib.error.HTTPError as error:
            status = error.code
            if status not in ok:
                raise IdentityProviderError(
                    f"{method} {path}: {status} {error.read()[:500]!r}") from None
        if status not in ok:
            raise IdentityProviderError(f"{method} {path}: {status}")
        return status

    def stop(self, wait_seconds: float = 30) -> dict:
        return stop_process(self.pid_file, wait_seconds, group=True)

    def status(self) -> dict:
        pid = self.pid()
        return {"running": pid is not None, "pid": pid, "version": VERSION,
                "issuer": f"{self.url}/realms/{REALM}", "home": str(self.home),
                "answering": self._master_answers() if pid else False}


def _admin_password(home: Path) -> str:
    """The provider's own administrator (development only), generated once."""
    from .console.agents import ensure_secret

    return ensure_secret(home / "admin-password")
