"""The supply chain: every dependency, direct or not, pinned with its hashes in the lock
files; the environment the suite runs in installed from them; an SBOM made from them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from services.config import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^ ;\\]+)")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes) for each entry of a lock file."""
    out: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = _name(match[1])
            out[current] = (match[2], 0)
        elif current and "--hash=sha256:" in line:
            version, n = out[current]
            out[current] = (version, n + 1)
    return out


def test_every_pin_of_the_project_is_locked_with_its_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    main, dev = locked(ROOT / "requirements" / "main.lock"), locked(ROOT / "requirements"
                                                                      / "dev.lock")
    for pin in pins:
        name, version = PIN.match(pin).groups()
        name = _name(name)
        assert dev[name][0] == version, (pin, dev.get(name))
    assert all(n > 0 for _, n in dev.values()), [k for k, (_, n) in dev.items() if not n]
    # What the image installs is what the suite ran with.
    assert {k: v for k, v in main.items()} == {k: dev[k] for k in main}
    assert "pytest" not in main and "pytest" in dev


def test_the_suite_runs_in_the_locked_environment():
    dev = locked(ROOT / "requirements" / "dev.lock")
    installed = {_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    stray = {name: version for name, version in installed.items()
             if name not in {"vigie", "pip", "setuptools", "wheel"}
             and dev.get(name, (None,))[0] != version}
    assert not stray, f"installed but not as locked: {stray}"


def test_the_sbom_lists_every_locked_component_with_its_hashes(tmp_path):
    out = tmp_path / "vigie.cdx.json"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "cyclonedx-py"), "requirements",
         str(ROOT / "requirements" / "main.lock"), "--pyproject", str(ROOT / "pyproject.toml"),
         "--output-reproducible", "--of", "JSON", "-o", str(out)],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    bom = json.loads(out.read_text())
    assert bom["bomFormat"] == "CycloneDX" and bom["metadata"]["component"]["name"] == "vigie"
    main = locked(ROOT / "requirements" / "main.lock")
    listed = {_name(c["name"]): c for c in bom["components"]}
    assert set(listed) == set(main)
    for name, (version, n) in main.items():
        assert listed[name]["version"] == version
        assert listed[name]["purl"] == f"pkg:pypi/{name}@{version}"
        hashes = [h for ref in listed[name].get("externalReferences", [])
                  for h in ref.get("hashes", [])] + listed[name].get("hashes", [])
        assert len(hashes) >= n > 0, name
