"""The breaking-change check: the contract against its last release, with oasdiff."""

from __future__ import annotations

import subprocess

import yaml

from services.config import ROOT

SCRIPT = ROOT / "tools" / "contract-diff.sh"


def test_the_contract_breaks_nothing_unacknowledged_since_the_last_release():
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_breaking_change_is_reported(tmp_path):
    contract = yaml.safe_load((ROOT / "openapi" / "vigie.yaml").read_text())
    # An operation clients use disappears.
    del contract["paths"]["/v1/statistics"]
    changed = tmp_path / "vigie.yaml"
    changed.write_text(yaml.safe_dump(contract, sort_keys=False, allow_unicode=True))
    done = subprocess.run([str(SCRIPT), str(changed)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert done.returncode != 0
    assert "api-path-removed" in done.stdout and "/v1/statistics" in done.stdout


def test_the_version_is_the_changelogs_and_follows_the_last_release():
    import re

    version = yaml.safe_load((ROOT / "openapi" / "vigie.yaml").read_text())["info"]["version"]
    asyncapi = yaml.safe_load((ROOT / "openapi" / "asyncapi.yaml").read_text())
    assert asyncapi["info"]["version"] == version
    top = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.M)[1]
    assert top == version
    released = sorted((p.stem for p in (ROOT / "openapi" / "releases").glob("*.yaml")),
                      key=lambda v: tuple(map(int, v.split("."))))
    assert tuple(map(int, released[-1].split("."))) < tuple(map(int, version.split(".")))
