"""What an upload is, read from its bytes (never from the declared type alone), and
whether the hub accepts it: a PDF must parse, must not be encrypted, and must carry no
active content — JavaScript, launch or submit actions, embedded files, XFA or rich media.
Such a PDF is refused with the reasons rather than cleaned: a document in a case file is
evidence, and the hub never alters what a party sent."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import BinaryIO

SIGNATURES = {"application/pdf": (b"%PDF-",), "image/png": (b"\x89PNG\r\n\x1a\n",),
              "image/jpeg": (b"\xff\xd8\xff",)}
SNIFF_BYTES = 16
# A PDF with more objects than this is refused rather than walked (a graph built to
# exhaust the inspection).
MAX_OBJECTS = 200_000
MAX_PIXELS = 50_000_000

# Dictionary keys and action types that run something or carry a file.
_ACTIVE_KEYS = {"/JS": "JavaScript", "/JavaScript": "JavaScript",
                "/EmbeddedFiles": "embedded files", "/EF": "embedded files",
                "/XFA": "an XFA form (scripted)", "/RichMedia": "rich media",
                "/RichMediaContent": "rich media"}
_ACTIVE_ACTIONS = {"/JavaScript": "JavaScript", "/Launch": "a launch action",
                   "/SubmitForm": "a form submission action",
                   "/ImportData": "a data import action", "/GoToE": "an embedded-file link",
                   "/RichMediaExecute": "rich media", "/Rendition": "a rendition action"}
_ACTIVE_TYPES = {"/EmbeddedFile": "embedded files", "/RichMedia": "rich media"}


@dataclass
class Verdict:
    """Why an upload is refused (empty: accepted), as reasons a user can act on."""

    reason: str = ""               # metric label: type, malformed, encrypted, active_content
    messages: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.messages


def sniffed(head: bytes) -> str | None:
    """The media type the first bytes announce, if one the hub knows."""
    for media_type, signatures in SIGNATURES.items():
        if any(head.startswith(s) for s in signatures):
            return media_type
    return None


def inspect(media_type: str, head: bytes, body: BinaryIO) -> Verdict:
    """`body` is the whole upload (seekable); `head` its first bytes."""
    found = sniffed(head)
    if found != media_type:
        what = found or "of no type the hub accepts"
        return Verdict("type", [f"the content is {what}, not {media_type}"])
    body.seek(0)
    if media_type == "application/pdf":
        return _pdf(body)
    return _image(body)


def _pdf(body: BinaryIO) -> Verdict:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(body, strict=True)
        if reader.is_encrypted:
            return Verdict("encrypted", ["the PDF is encrypted or password-protected: "
                                         "send it unprotected"])
        found = _active_content(reader)
    except _TooComplex:
        return Verdict("malformed", [f"the PDF has more than {MAX_OBJECTS} objects"])
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, OSError, AssertionError, ZeroDivisionError) as exc:
        return Verdict("malformed", [f"the PDF does not parse: {type(exc).__name__}"])
    if found:
        return Verdict("active_content", [
            f"the PDF contains {what} (object {where}); the hub accepts no active "
            "content: export the document again without it (e.g. print to PDF)"
            for what, where in sorted(found.items())])
    return Verdict()


class _TooComplex(Exception):
    pass


def _active_content(reader) -> dict[str, str]:
    """Every kind of active content anywhere in the document's object graph, with the
    first object it was seen in."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    found: dict[str, str] = {}
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[object, str]] = [(reader.trailer, "trailer")]
    visited = 0
    while stack:
        obj, where = stack.pop()
        if isinstance(obj, IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in seen:
                continue
            seen.add(ref)
            visited += 1
            if visited > MAX_OBJECTS:
                raise _TooComplex
            where = f"{obj.idnum} {obj.generation}"
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            for key in obj:
                if key in _ACTIVE_KEYS:
                    found.setdefault(_ACTIVE_KEYS[key], where)
            kind = obj.get("/S")
            if kind in _ACTIVE_ACTIONS:
                found.setdefault(_ACTIVE_ACTIONS[kind], where)
            if obj.get("/Type") in _ACTIVE_TYPES or obj.get("/Subtype") in _ACTIVE_TYPES:
                found.setdefault(_ACTIVE_TYPES.get(obj.get("/Type"))
                                 or _ACTIVE_TYPES[obj.get("/Subtype")], where)
            stack.extend((v, where) for k, v in obj.items() if k != "/Parent")
        elif isinstance(obj, ArrayObject):
            stack.extend((v, where) for v in obj)
    return found


def _image(body: BinaryIO) -> Verdict:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(body) as image:
            image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError,
            SyntaxError) as exc:
        return Verdict("malformed", [f"the image does not decode: {type(exc).__name__}"])
    return Verdict()
