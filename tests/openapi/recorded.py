"""The contract's response examples are the hub's own answers: recorded by the walk of
tests/openapi (every operation, through the real stack) and kept at the end of
openapi/vigie.yaml, under `components/examples`, where each response refers to its own.

    make contract-examples      # record them again (VIGIE_RECORD_EXAMPLES=1)

Outside recording, the same walk checks every answer against its example: the same
fields at every level, of the same JSON types (a null matches any type, lists are
compared by their first element), so that an example cannot drift from what the hub
sends. Redocly checks each example against its schema (`make lint`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import yaml

from services.config import ROOT

RECORDING = os.environ.get("VIGIE_RECORD_EXAMPLES") == "1"
CONTRACT = ROOT / "openapi" / "vigie.yaml"
# Where the recorded examples begin (tools/contract_files.py keeps them, as they are,
# after the schemas it generates).
HEAD = "\n  examples:\n"
MARK = ("    # --- Recorded by `make contract-examples` (tests/openapi/recorded.py) from the "
        "hub's answers: do not edit below. ---\n")
# How many elements of a list an example keeps: enough to show it is a list.
KEEP = 2
# What a recording must not carry into the repository, even from a throwaway hub: the
# credentials it hands out, replaced by values of the same form saying what they are.
STAND_INS = {
    "access_token": ("eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImV4YW1wbGUifQ."
                     "eyJleGFtcGxlIjoibm90IGEgcmVhbCB0b2tlbiJ9.ZXhhbXBsZQ"),
    "client_secret": "exemple-pas-un-vrai-secret-0000000000000",
    "secret": "whsec_RXhlbXBsZSA6IHBhcyB1biB2cmFpIHNlY3JldC4=",
}
# Fields the hub sends only in some cases, so that an answer may have them or not
# whatever the example shows: who sent an earlier notice for the same URL is told only
# to that sender, and only while that notice is open (the suite's order decides).
SOMETIMES = frozenset({"duplicate_of_sender"})


def scrub(value: Any, key: str | None = None) -> Any:
    """The answer as an example: credentials replaced, lists cut to `KEEP` elements."""
    if key in STAND_INS and isinstance(value, str):
        stand_in = STAND_INS[key]
        return stand_in if key != "secret" or value.startswith("whsec_") else STAND_INS[
            "client_secret"]
    if isinstance(value, dict):
        return {k: scrub(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value[:KEEP]]
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def differences(example: Any, answer: Any, where: str = "$") -> list[str]:
    """Where the answer's shape differs from the example's."""
    if example is None or answer is None:
        return []
    if isinstance(example, dict) and isinstance(answer, dict):
        found = [f"{where}.{k}: in the example, not in the answer"
                 for k in example.keys() - answer.keys() - SOMETIMES]
        found += [f"{where}.{k}: in the answer, not in the example"
                  for k in answer.keys() - example.keys() - SOMETIMES]
        for k in example.keys() & answer.keys():
            found += differences(example[k], answer[k], f"{where}.{k}")
        return found
    if isinstance(example, list) and isinstance(answer, list):
        if bool(example) != bool(answer):
            return [f"{where}: {'empty' if not example else 'a list'} in the example, "
                    f"{'empty' if not answer else 'a list'} in the answer"]
        return differences(example[0], answer[0], f"{where}[0]") if example else []
    if _kind(example) != _kind(answer):
        return [f"{where}: {_kind(example)} in the example, {_kind(answer)} in the answer"]
    return []


def committed() -> dict[str, Any]:
    """The recorded examples in the contract, by name."""
    return (yaml.safe_load(CONTRACT.read_text())["components"].get("examples") or {})


def contract_text(current: str, examples: dict[str, Any]) -> str:
    """The contract with its recorded part replaced by `examples`, sorted by name."""
    head = current.partition(HEAD)[0].rstrip("\n") + "\n"
    body = yaml.safe_dump({name: examples[name] for name in sorted(examples)},
                          sort_keys=False, allow_unicode=True, width=100)
    return head + HEAD + MARK + "".join("    " + line if line.strip() else line
                                        for line in body.splitlines(keepends=True))


class Examples:
    """What the walk saw: checked against the contract's examples, or recorded."""

    def __init__(self) -> None:
        self.examples = committed()
        self.recorded: dict[str, Any] = {}

    def check(self, name: str, response: Any, status: int,
              select: Callable[[Any], Any] = lambda answer: answer) -> Any:
        """The answer's JSON, after checking its status and its example's shape (or
        recording it as `name`, the first time it is seen). `select` keeps the part of
        a shared answer that is the walk's own (e.g. its own item of a feed page)."""
        assert response.status_code == status, (name, response.status_code, response.text)
        answer = response.json()
        example = scrub(select(answer))
        if RECORDING:
            self.recorded.setdefault(name, {"value": example})
            return answer
        assert name in self.examples, f"no example {name}: run `make contract-examples`"
        drift = differences(self.examples[name]["value"], example)
        assert not drift, f"{name} no longer answers as its example: {drift}"
        return answer

    def write(self) -> None:
        if self.recorded:
            CONTRACT.write_text(contract_text(CONTRACT.read_text(),
                                              {**self.examples, **self.recorded}))
