"""The contract types every event: its generated parts are up to date, and messages the
hub emits conform (the whole suite's are checked at each stack's end: tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys

from services.config import ROOT
from tests.conftest import example_request
from tests.openapi.events import problems


def test_generated_contract_files_are_up_to_date():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "contract_files.py"),
                           "--check"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_a_message_that_strays_from_the_contract_is_caught(stack):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    item = court.post("/v1/information-requests", example_request()).json()
    submitted = miviludes.wait_delivered(item["id"])["event"]
    assert problems(submitted) == []
    acknowledged = miviludes.post(f"/v1/information-requests/{item['id']}/acknowledgement",
                                  {"reference": "MIV-1"})
    assert acknowledged.status_code == 201, acknowledged.text
    step = court.wait_feed(lambda f: any(
        i["event"]["subject"] == item["id"] and i["event"]["type"].endswith("acknowledged")
        for i in f))
    event = next(i["event"] for i in step if i["event"]["subject"] == item["id"]
                 and i["event"]["type"].endswith("acknowledged"))
    assert problems(event) == []
    # What a careless change would emit: each is named.
    assert problems({**event, "type": "fr.gouv.vigie.information-requests.shrugged"}) == [
        "type 'fr.gouv.vigie.information-requests.shrugged' is not in the contract"]
    stray = {**event, "data": {**event["data"], "status": "answered", "extra": 1}}
    found = problems(stray)
    assert any(p.startswith("data.status:") for p in found), found
    assert any("extra" in p for p in found), found
    # What stays once erased conforms too.
    assert problems({**submitted, "data": {"id": item["id"], "redacted": True,
                                           "digest": "sha256:" + "0" * 64}}) == []
