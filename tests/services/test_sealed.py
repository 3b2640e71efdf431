"""Sealed secrets: AES-256-GCM under keys kept outside the database, bound to their row."""

from __future__ import annotations

import json
import stat

import pytest

from services.config import Settings
from services.sealed import SecretBox, Unsealable, add_key, new_keys_file


def test_a_sealed_secret_opens_only_for_its_row_and_unaltered():
    box = SecretBox.load(new_keys_file())
    sealed = box.seal("whsec_abc", "hook-1")
    assert "whsec_abc" not in sealed and box.open(sealed, "hook-1") == "whsec_abc"
    assert box.seal("whsec_abc", "hook-1") != sealed  # a fresh nonce each time
    with pytest.raises(Unsealable):
        box.open(sealed, "hook-2")  # moved to another row
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(Unsealable):
        box.open(flipped, "hook-1")
    with pytest.raises(Unsealable):
        SecretBox.load(new_keys_file()).open(sealed, "hook-1")  # another hub's keys
    with pytest.raises(Unsealable):
        box.open("whsec_abc", "hook-1")


def test_a_new_active_key_still_opens_what_the_old_one_sealed():
    first = new_keys_file()
    old = SecretBox.load(first)
    sealed = old.seal("s", "row")
    rolled = SecretBox.load(add_key(first))
    assert rolled.active != old.active and rolled.open(sealed, "row") == "s"
    assert not rolled.is_current(sealed) and rolled.is_current(rolled.seal("s", "row"))


def test_development_keys_are_generated_once_readable_by_the_owner_only(tmp_path):
    settings = Settings.from_env({"VIGIE_STATE_DIR": str(tmp_path / "state")})
    box = SecretBox.from_settings(settings)
    path = tmp_path / "state" / "data-keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SecretBox.from_settings(settings).open(box.seal("s", "r"), "r") == "s"
    mounted = tmp_path / "mounted.json"
    mounted.write_text(json.dumps(new_keys_file()))
    other = SecretBox.from_settings(Settings.from_env(
        {"VIGIE_STATE_DIR": str(tmp_path / "state"), "VIGIE_DATA_KEYS_FILE": str(mounted)}))
    assert other.active != box.active
