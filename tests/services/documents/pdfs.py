"""PDFs and images made for the tests: a plain one, and ones with each kind of active
content the hub refuses."""

from __future__ import annotations

import io

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject


def plain_pdf(text: str = "Jugement du tribunal correctionnel", pages: int = 1) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for n in range(pages):
        pdf.add_page()
        pdf.cell(0, 10, f"{text} - page {n + 1}")
    return bytes(pdf.output())


def _rewritten(change) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain_pdf())))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _opening(action: str, key: str, value: str) -> bytes:
    """The plain PDF with an action run when it is opened."""
    def add(writer: PdfWriter) -> None:
        run = DictionaryObject({NameObject("/S"): NameObject(action),
                                NameObject(key): TextStringObject(value)})
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(run)
    return _rewritten(add)


def with_javascript() -> bytes:
    return _opening("/JavaScript", "/JS", "app.alert('x');")


def with_embedded_file() -> bytes:
    return _rewritten(lambda w: w.add_attachment("notes.txt", b"hidden"))


def with_launch_action() -> bytes:
    return _opening("/Launch", "/F", "calc.exe")


def encrypted() -> bytes:
    return _rewritten(lambda w: w.encrypt("secret"))


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()
