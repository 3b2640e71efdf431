"""Each document is encrypted with a key of its own (AES-256-GCM), in chunks sealed one by
one, so that a download is decrypted and checked chunk by chunk without holding the file
in memory, and a truncated, reordered or altered object is refused at the first bad
chunk. The key itself is sealed by the hub's data key (services/sealed.py) in the
document's row: destroying the row's key makes every copy of the bytes unreadable
(crypto-shredding), whatever backups of the object store hold.

Layout: MAGIC, a 7-byte nonce prefix, then chunks of CHUNK bytes of plaintext (the last
shorter, possibly empty), each sealed with the nonce prefix ‖ chunk number ‖ last flag,
and the document's id as associated data (an object cannot be passed off as another's).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"VGD1"
CHUNK = 64 * 1024
TAG = 16
PREFIX = 7


class Corrupted(ValueError):
    """The stored object is not what was stored for this document."""


def new_key() -> bytes:
    return AESGCM.generate_key(256)


def _nonce(prefix: bytes, n: int, last: bool) -> bytes:
    return prefix + n.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def encrypt(key: bytes, document_id: str, plaintext: BinaryIO) -> Iterator[bytes]:
    """The stored form of `plaintext` (read from its current position), piece by piece."""
    aead, aad = AESGCM(key), document_id.encode()
    prefix = secrets.token_bytes(PREFIX)
    yield MAGIC + prefix
    n = 0
    chunk = plaintext.read(CHUNK)
    while True:
        following = plaintext.read(CHUNK) if len(chunk) == CHUNK else b""
        last = not following and len(chunk) < CHUNK
        yield aead.encrypt(_nonce(prefix, n, last), chunk, aad)
        if last:
            return
        n += 1
        chunk = following


def decrypt(key: bytes, document_id: str, stored: Iterator[bytes]) -> Iterator[bytes]:
    """The plaintext of a stored object, chunk by chunk, each checked before it is given;
    raises Corrupted at the first chunk that does not open (or if the end is missing)."""
    aead, aad = AESGCM(key), document_id.encode()
    buffer = bytearray()
    pieces = iter(stored)
    for piece in pieces:
        buffer += piece
        if len(buffer) >= len(MAGIC) + PREFIX:
            break
    if bytes(buffer[:len(MAGIC)]) != MAGIC:
        raise Corrupted("not a document object")
    prefix = bytes(buffer[len(MAGIC):len(MAGIC) + PREFIX])
    del buffer[:len(MAGIC) + PREFIX]
    sealed = CHUNK + TAG
    n = 0
    exhausted = False
    while True:
        while len(buffer) <= sealed and not exhausted:
            try:
                buffer += next(pieces)
            except StopIteration:
                exhausted = True
        # A full chunk followed by more is a middle chunk; anything else is the last.
        last = len(buffer) <= sealed
        block = bytes(buffer[:sealed])
        del buffer[:sealed]
        try:
            yield aead.decrypt(_nonce(prefix, n, last), block, aad)
        except InvalidTag:
            raise Corrupted(f"chunk {n} does not open") from None
        if last:
            if buffer:
                raise Corrupted("data after the last chunk")
            return
        n += 1
