"""The Java client: generated from the contract by openapi-generator (from Maven Central)
and compiled, as a court's or a platform's Java team would (`make java-client`)."""

from __future__ import annotations

import shutil
import subprocess

from services.config import ROOT


def test_the_java_client_is_generated_and_compiles(tmp_path):
    assert shutil.which("mvn"), "Maven is installed by make system-deps"
    done = subprocess.run(
        ["mvn", "-B", "-q", "-f", str(ROOT / "tools" / "clients" / "java" / "pom.xml"),
         "compile", f"-Dvigie.contract={ROOT / 'openapi' / 'vigie.yaml'}",
         f"-Dvigie.build={tmp_path}"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    classes = tmp_path / "classes" / "fr" / "gouv" / "vigie" / "client"
    # Every exchange's API, the typed feed and its events, the token request.
    for name in ("api/InformationRequestsApi", "api/ContentNoticesApi", "api/FeedApi",
                 "api/OauthApi", "model/FeedEvent", "model/InformationRequestsAnsweredEvent",
                 "model/SignalementsStepEntry", "model/Problem"):
        assert (classes / f"{name}.class").exists(), name
    sources = tmp_path / "generated-sources" / "openapi" / "src" / "main" / "java"
    token = (sources / "fr" / "gouv" / "vigie" / "client" / "api" / "OauthApi.java").read_text()
    assert "public TokenResponse oauthToken(" in token
