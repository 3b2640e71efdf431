"""How writes travel from an API process to the writer process, and their outcomes back:
length-prefixed frames of pickles, read by an unpickler that builds only the classes a
write is made of (a frame can name no other class, function or module); tables and time
zones travel by name.

Pickle because it is what costs least here: a submission's `Write` (about 5 kB of rows,
envelope, claims and audit event) takes microseconds each way, where a JSON form would
need a schema of every field's type to come back as datetimes and tables."""

from __future__ import annotations

import copyreg
import io
import pickle
import struct
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Table

from ..db import Base

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024  # a group of writes is far smaller; anything larger is wrong

# (module, name) → the object an unpickler may build: what writes are made of. The layers
# above register their own (an erasure's statements) with `allow`.
_ALLOWED: dict[tuple[str, str], Any] = {}


def allow(cls: type) -> type:
    """Let `cls` travel in writes (a dataclass of plain values)."""
    _ALLOWED[(cls.__module__, cls.__qualname__)] = cls
    return cls


for _cls in (datetime, date, timedelta, timezone):
    allow(_cls)



def _table(name: str) -> Table:
    if name not in Base.metadata.tables:
        raise pickle.UnpicklingError(f"no table {name!r}")
    return Base.metadata.tables[name]


def _zone(key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ValueError, ZoneInfoNotFoundError):
        raise pickle.UnpicklingError(f"no time zone {key!r}") from None


_ALLOWED[(__name__, "_table")] = _table
_ALLOWED[(__name__, "_zone")] = _zone


class _Pickler(pickle.Pickler):
    # Looked up by type in C: a Python hook called for every object (persistent_id) made
    # pickling a submission's write cost several times more.
    dispatch_table = {
        **copyreg.dispatch_table,
        Table: lambda t: (_table, (str(t.name),)),
        # By name: a ZoneInfo otherwise pickles through builtins.getattr.
        ZoneInfo: lambda z: (_zone, (z.key,)),
    }


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, writes: bool):
        super().__init__(io.BytesIO(data))
        self._writes = writes

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name)) if self._writes else None
        return found if found is not None else _refuse(module, name)


def _refuse(module: str, name: str) -> Any:
    raise pickle.UnpicklingError(f"{module}.{name} is not part of a write")


def encode_writes(writes: list[tuple[int, Any]]) -> bytes:
    """A frame of (request id, Write) pairs."""
    buffer = io.BytesIO()
    buffer.write(b"\0\0\0\0")
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(writes)
    return _framed(buffer)


def decode_writes(payload: bytes) -> list[tuple[int, Any]]:
    return _Unpickler(payload, writes=True).load()


def encode_outcomes(outcomes: list[tuple[int, str, str]]) -> bytes:
    """A frame of (request id, kind, detail) triples: plain values only."""
    buffer = io.BytesIO()
    buffer.write(b"\0\0\0\0")
    pickle.dump(outcomes, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    return _framed(buffer)


def decode_outcomes(payload: bytes) -> list[tuple[int, str, str]]:
    return _Unpickler(payload, writes=False).load()


def _framed(buffer: io.BytesIO) -> bytes:
    data = buffer.getbuffer()
    size = len(data) - HEADER.size
    if size > MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes")
    HEADER.pack_into(data, 0, size)
    del data
    return buffer.getvalue()


class Frames:
    """Frames out of a byte stream, as they complete."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out = []
        while len(self._buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer)
            if size > MAX_FRAME:
                raise ValueError(f"a frame of {size} bytes")
            end = HEADER.size + size
            if len(self._buffer) < end:
                break
            out.append(bytes(self._buffer[HEADER.size:end]))
            del self._buffer[:end]
        return out
