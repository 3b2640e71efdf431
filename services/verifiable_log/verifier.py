"""Vigie's evidence verifier: one file, the Python standard library and `cryptography`,
nothing of the hub. A court, a national order or a platform runs it offline, trusting
only a key set pinned once (never a key carried by what it checks):

    python verifier.py bundle BUNDLE.json --keys vigie-log-keys.json
    python verifier.py bundle BUNDLE.json --fingerprint SHA256:<hex of the public key>
    python verifier.py checkpoint CHECKPOINT.txt --keys vigie-log-keys.json

What it checks, so that it can be re-implemented from this text:

* Leaves and nodes hash as RFC 9162 §2.1: leaf = SHA-256(0x00 || data),
  node = SHA-256(0x01 || left || right). An evidence leaf's data is its claims as JSON,
  keys sorted, no spaces, UTF-8 (Python's `json.dumps(c, sort_keys=True,
  separators=(",", ":"), ensure_ascii=False)`).
* A checkpoint is a C2SP signed note: the text `<origin>\\n<tree size>\\n<base64 root>\\n`
  then extension lines (`audit <seq> <chain hash>`, `time <RFC 3339>`), a blank line, and
  signature lines `— <key name> <base64(key id (4 bytes) || Ed25519 signature)>`. The key
  id is the first 4 bytes of SHA-256(key name || "\\n" || 0x01 || public key); the
  signature covers the text before the blank line.
* The key set (`vigie-log-keys/1`) lists the hub's keys with the window in which each
  may sign (`valid_from`, `valid_until`); a checkpoint whose `time` is outside its key's
  window is refused.
* A bundle (`vigie-evidence-bundle/3`) holds an item's evidence records, each with its
  index in the log and its inclusion proof (RFC 9162 §2.1.3) into the bundled checkpoint.
* A witness keeps the last checkpoint it accepted and accepts a newer one only with a
  consistency proof (RFC 9162 §2.1.4) that it extends it: a smaller log is a rollback, a
  log that does not extend it is a fork (the hub showing two histories, or history
  rewritten); either is refused and the state is left as it was.

    python verifier.py witness --url https://vigie.example --client-id ID \
        --client-secret-file SECRET --keys vigie-log-keys.json --state witness.json
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "vigie-evidence-bundle/3"
KEYS_FORMAT = "vigie-log-keys/1"
ED25519 = b"\x01"
MESSAGE_STEPS = ("submitted", "delivered", "retrieved")


class Refused(Exception):
    """What does not verify, and why (one sentence for the person reading it)."""


# --- hashing (RFC 9162 §2.1) ----------------------------------------------------------

def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root a leaf and its audit path lead to."""
    if not 0 <= index < size:
        raise Refused(f"leaf {index} is outside a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise Refused("the inclusion proof is longer than the tree allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Refused("the inclusion proof is shorter than the tree needs")
    return r


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes,
                       proof: list[bytes]) -> None:
    """RFC 9162 §2.1.4.2: the tree of size2 extends the tree of size1 (raises if not)."""
    if size1 > size2:
        raise Refused(f"the log shrank from {size1} to {size2} leaves (a rollback)")
    if size1 == size2:
        if proof or root1 != root2:
            raise Refused(f"two different trees of {size1} leaves (a fork)")
        return
    if size1 == 0:
        if proof:
            raise Refused("a consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise Refused("empty consistency proof")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root starts the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Refused("the consistency proof is longer than the trees allow")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Refused("the consistency proof is shorter than the trees need")
    if fr != root1 or sr != root2:
        raise Refused(f"the log of {size2} leaves does not extend the one of {size1} "
                      "leaves seen before (a fork, or history rewritten)")


# --- keys and signed notes (C2SP signed-note, tlog-checkpoint) -------------------------

def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def fingerprint(public_key: bytes) -> str:
    return "SHA256:" + hashlib.sha256(public_key).hexdigest()


def b64(data: bytes) -> str:
    """Hashes, keys and signatures travel as standard base64."""
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("a time without its offset")
    return value


class Checkpoint:
    """A parsed, not yet verified, checkpoint."""

    def __init__(self, note: str):
        if "\n\n" not in note:
            raise Refused("not a signed note (no blank line before the signatures)")
        self.note = note
        text, _, signatures = note.partition("\n\n")
        self.text = text + "\n"
        lines = text.split("\n")
        if len(lines) < 3:
            raise Refused("a checkpoint has an origin, a size and a root")
        self.origin = lines[0]
        try:
            self.size = int(lines[1])
            self.root = _unb64(lines[2])
        except ValueError:
            raise Refused("the checkpoint's size or root is malformed") from None
        if self.size < 0 or len(self.root) != 32 or lines[1] != str(self.size):
            raise Refused("the checkpoint's size or root is malformed")
        self.extensions = {}
        for line in lines[3:]:
            word, _, rest = line.partition(" ")
            self.extensions[word] = rest
        try:
            self.time = _time(self.extensions.get("time"))
        except ValueError:
            raise Refused("the checkpoint's time is malformed") from None
        audit = self.extensions.get("audit", "").split(" ")
        self.audit_seq = int(audit[0]) if audit[0].isdigit() else None
        self.audit_hash = audit[1] if len(audit) > 1 else None
        self.signatures = []
        for line in signatures.strip("\n").split("\n"):
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] != "—":
                raise Refused("a signature line is malformed")
            try:
                blob = _unb64(parts[2])
            except ValueError:
                raise Refused("a signature is not base64") from None
            if len(blob) != 68:
                raise Refused("a signature is not an Ed25519 signature")
            self.signatures.append((parts[1], blob[:4], blob[4:]))


class KeySet:
    """The keys a party pinned: only these can make a checkpoint genuine."""

    def __init__(self, data: dict, only: str | None = None):
        if data.get("format") != KEYS_FORMAT:
            raise Refused(f"not a key set of the format {KEYS_FORMAT}")
        self.origin = data["origin"]
        self.issuer = data["issuer"]
        self.keys = []
        for k in data["keys"]:
            public = _unb64(k["public_key"])
            if only is not None and fingerprint(public) != only:
                continue
            self.keys.append({"name": k["name"], "public": public,
                              "id": key_id(k["name"], public),
                              "from": _time(k["valid_from"]),
                              "until": _time(k.get("valid_until"))})
        if not self.keys:
            raise Refused("no pinned key" + (f" has the fingerprint {only}" if only else ""))

    def verify(self, checkpoint: Checkpoint) -> dict:
        """The key that signed the checkpoint, once the signature and the key's validity
        at the checkpoint's time hold."""
        if checkpoint.origin != self.origin:
            raise Refused(f"the checkpoint is from {checkpoint.origin!r}, not from the "
                          f"pinned log {self.origin!r}")
        if checkpoint.time is None:
            raise Refused("the checkpoint has no time")
        for name, kid, signature in checkpoint.signatures:
            for key in self.keys:
                if key["name"] != name or key["id"] != kid:
                    continue
                try:
                    Ed25519PublicKey.from_public_bytes(key["public"]).verify(
                        signature, checkpoint.text.encode())
                except InvalidSignature:
                    raise Refused("the checkpoint's signature is not valid: its text was "
                                  "changed, or another key signed it") from None
                if checkpoint.time < key["from"] or (
                        key["until"] is not None and checkpoint.time >= key["until"]):
                    raise Refused(f"the key {kid.hex()} could not sign at "
                                  f"{checkpoint.time.isoformat()} (outside its validity)")
                return key
        raise Refused("the checkpoint is not signed by any pinned key")


# --- bundles ------------------------------------------------------------------------------

def verify_bundle(bundle: dict, keys: KeySet) -> list[str]:
    """One line per record; raises Refused with the reason at the first that fails."""
    if bundle.get("format") != BUNDLE_FORMAT:
        raise Refused(f"not a bundle of the format {BUNDLE_FORMAT} (older bundles carried "
                      "their own keys and cannot be trusted: export it again)")
    checkpoint = Checkpoint(bundle["checkpoint"])
    keys.verify(checkpoint)
    records = bundle.get("records") or []
    if not records:
        raise Refused("the bundle has no evidence")
    lines, steps = [], set()
    for i, record in enumerate(records, 1):
        claims = record["claims"]
        if not isinstance(claims, dict) or "item" not in claims or "step" not in claims:
            raise Refused(f"record {i} is not an evidence record")
        if claims.get("iss") != keys.issuer:
            raise Refused(f"record {i} was issued by {claims.get('iss')!r}, not by "
                          f"{keys.issuer!r}")
        if claims["item"] != bundle["item"]:
            raise Refused(f"record {i} is about another item")
        if claims["step"] in MESSAGE_STEPS and \
                claims.get("message_digest") != bundle["message_digest"]:
            raise Refused(f"record {i} binds another message")
        try:
            path = [_unb64(h) for h in record["inclusion"]]
        except (ValueError, TypeError):
            raise Refused(f"record {i}'s inclusion proof is malformed") from None
        leaf = leaf_hash(canonical(claims))
        try:
            root = root_from_inclusion(int(record["leaf_index"]), checkpoint.size, leaf, path)
        except Refused as exc:
            raise Refused(f"record {i}: {exc}") from None
        if root != checkpoint.root:
            raise Refused(f"record {i} ({claims['step']}) is not in the log: its claims "
                          "or its proof were changed")
        steps.add(claims["step"])
        basis = f", under {claims['basis']}" if claims.get("basis") else ""
        lines.append(f"{i}. OK {claims['step']} at {claims.get('at')} "
                     f"({claims.get('sender')} → {claims.get('recipient')}{basis}), "
                     f"leaf {record['leaf_index']} of {checkpoint.size}")
    if "submitted" not in steps:
        raise Refused("the bundle has no record of the submission")
    return lines


# --- witnessing ---------------------------------------------------------------------------

class Witness:
    """The last checkpoint accepted, kept in a file; a newer one is accepted only if the
    log it describes extends the one accepted before."""

    def __init__(self, keys: KeySet, state_path: str | None = None):
        self.keys = keys
        self.state_path = state_path
        self.last: Checkpoint | None = None
        if state_path and os.path.exists(state_path):
            with open(state_path, encoding="utf-8") as f:
                self.last = Checkpoint(json.load(f)["checkpoint"])

    def observe(self, note: str, prove: Callable[[int, int], list[bytes]]) -> Checkpoint:
        """Verify `note` and its consistency with the last accepted checkpoint (`prove`
        gives the proof between two sizes); raises Refused, keeping the state, if not."""
        checkpoint = Checkpoint(note)
        self.keys.verify(checkpoint)
        last = self.last
        if last is not None:
            if checkpoint.size < last.size:
                raise Refused(f"rollback: the log now has {checkpoint.size} leaves, "
                              f"{last.size} were seen at {last.time.isoformat()}")
            proof = [] if checkpoint.size == last.size else prove(last.size, checkpoint.size)
            verify_consistency(last.size, checkpoint.size, last.root, checkpoint.root, proof)
        self.last = checkpoint
        if self.state_path:
            tmp = self.state_path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"checkpoint": checkpoint.note}, f)
            os.replace(tmp, self.state_path)
        return checkpoint


def _get(url: str, token: str | None = None) -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/json", **(
        {"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the hub's URL
        return json.load(response)


def token_for(base_url: str, client_id: str, client_secret: str) -> str:
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": client_secret}).encode()
    request = urllib.request.Request(base_url + "/oauth/token", data=form, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)["access_token"]


def witness_once(base_url: str, token: str, witness: Witness) -> Checkpoint:
    """Fetch the hub's latest checkpoint and accept it, or raise Refused."""
    base_url = base_url.rstrip("/")
    note = _get(base_url + "/v1/log/checkpoint", token)["note"]

    def prove(first: int, second: int) -> list[bytes]:
        answer = _get(f"{base_url}/v1/log/consistency?first={first}&second={second}", token)
        return [_unb64(h) for h in answer["hashes"]]

    return witness.observe(note, prove)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify Vigie evidence offline; witness "
                                     "the hub's log.")
    parser.add_argument("what", choices=["bundle", "checkpoint", "witness"])
    parser.add_argument("file", nargs="?", help="the bundle or checkpoint (not for witness)")
    parser.add_argument("--url", help="witness: the hub's base URL")
    parser.add_argument("--client-id", help="witness: an OAuth2 client of your organisation")
    parser.add_argument("--client-secret-file", help="witness: a file holding its secret")
    parser.add_argument("--state", help="witness: where the last accepted checkpoint is kept")
    pinned = parser.add_mutually_exclusive_group(required=True)
    pinned.add_argument("--keys", help="the hub's key set (vigie-log-keys/1), pinned once")
    pinned.add_argument("--fingerprint", help="SHA256:<hex>: trust only this key "
                        "(looked up in the key history the bundle carries)")
    args = parser.parse_args(argv)
    try:
        if args.what == "witness":
            return _witness_main(args, parser)
        if not args.file:
            parser.error(f"{args.what} needs a file")
        with open(args.file, encoding="utf-8") as f:
            text = f.read()
        if args.keys:
            with open(args.keys, encoding="utf-8") as f:
                keys = KeySet(json.load(f))
        else:
            keys = KeySet(json.loads(text)["keys"], only=args.fingerprint)
        if args.what == "bundle":
            lines = verify_bundle(json.loads(text), keys)
            print("\n".join(lines))
            print("evidence bundle verified")
        else:
            checkpoint = Checkpoint(text)
            keys.verify(checkpoint)
            print(f"checkpoint verified: {checkpoint.size} leaves at "
                  f"{checkpoint.time.isoformat()}")
        return 0
    except Refused as exc:
        print(f"NOT verified: {exc}")
        return 1
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"NOT verified: unreadable input ({type(exc).__name__}: {exc})")
        return 1


def _witness_main(args, parser) -> int:
    if not (args.url and args.client_id and args.client_secret_file and args.state and
            args.keys):
        parser.error("witness needs --url, --client-id, --client-secret-file, --state, --keys")
    with open(args.keys, encoding="utf-8") as f:
        keys = KeySet(json.load(f))
    with open(args.client_secret_file, encoding="utf-8") as f:
        secret = f.read().strip()
    witness = Witness(keys, args.state)
    before = witness.last.size if witness.last else 0
    try:
        checkpoint = witness_once(args.url, token_for(args.url.rstrip("/"), args.client_id,
                                                      secret), witness)
    except Refused as exc:
        print(f"LOG INCONSISTENT: {exc}")
        return 2
    print(f"log consistent: {checkpoint.size} leaves at {checkpoint.time.isoformat()} "
          f"(was {before})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
