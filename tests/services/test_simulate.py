"""`vigie simulate`: the other party, played from the feed with the contract's examples —
a recipient answers, a platform decides, one that refuses declines."""

from __future__ import annotations

import threading
import time

from services.demo import DemoClient
from services.simulate import Behaviour, Simulator
from tests.conftest import example_notice, example_request


def _played(stack, org: str, behaviour: Behaviour, lines: list[str]) -> Simulator:
    """`vigie simulate --as ORG`, over the stack's own connection to the hub."""
    creds = stack.creds[org]
    return Simulator(DemoClient("", creds, http=stack.http), org,
                     frozenset(creds["scopes"]), behaviour, say=lines.append)


def _status(api, path: str, wanted: str, timeout: float = 30) -> dict:
    """The item once in state `wanted`, or once the step `wanted` is taken (it may have
    moved on since)."""
    deadline = time.monotonic() + timeout
    while True:
        item = api.get(path).json()
        if wanted in (item["status"], *(s["action"] for s in item["steps"])) \
                or time.monotonic() > deadline:
            return item
        time.sleep(0.2)


def test_simulated_counterparts_answer_decide_and_refuse(stack):
    lines: list[str] = []
    stop = threading.Event()
    players = [_played(stack, "miviludes", Behaviour(delay=0), lines),
               _played(stack, "plateforme-alpha", Behaviour(delay=0), lines),
               _played(stack, "dgs", Behaviour(delay=0, refuse=1.0, seed=1), lines)]
    threads = []
    for player in players:
        cursor = player.tail()      # from now on, as `vigie simulate` starts
        threads.append(threading.Thread(target=player.run, kwargs={
            "should_stop": stop.is_set, "after": cursor}, daemon=True))
    for thread in threads:
        thread.start()
    try:
        court, dgs = stack.api("tj-paris"), stack.api("dgs")
        asked = court.post("/v1/information-requests", example_request()).json()
        answered = _status(court, f"/v1/information-requests/{asked['id']}", "answered")
        assert answered["status"] == "answered", (answered["status"], lines)
        assert [s["action"] for s in answered["steps"]] == ["acknowledgement", "answer"]

        refused = court.post("/v1/information-requests",
                             example_request(recipient="dgs")).json()
        declined = _status(court, f"/v1/information-requests/{refused['id']}", "declined")
        assert declined["status"] == "declined", (declined["status"], lines)

        # Miviludes' own simulator, as the notice's sender, does not contest (refuse=0);
        # the DGS's, which always refuses, contests its notice's decision.
        miviludes = stack.api("miviludes")
        notice = miviludes.post("/v1/content-notices", example_notice()).json()
        decided = _status(miviludes, f"/v1/content-notices/{notice['id']}", "decision")
        assert [s["action"] for s in decided["steps"]][:2] == ["acknowledgement", "decision"]
        time.sleep(1.0)
        assert "complaint" not in [s["action"] for s in miviludes.get(
            f"/v1/content-notices/{notice['id']}").json()["steps"]]
        contested = dgs.post("/v1/content-notices", example_notice()).json()
        answered = _status(dgs, f"/v1/content-notices/{contested['id']}", "complaint_decided")
        assert answered["status"] == "complaint_decided", (answered["status"], lines)
        assert f"information-requests {asked['id']}: answer → answered" in lines
        assert f"content-notices {notice['id']}: decision → decided" in lines
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
