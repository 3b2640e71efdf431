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


def with_javascript() -> bytes:
    def script(writer: PdfWriter) -> None:
        action = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                   NameObject("/JS"): TextStringObject("app.alert('x');")})
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    return _rewritten(script)


def with_embedded_file() -> bytes:
    return _rewritten(lambda w: w.add_attachment("notes.txt", b"hidden"))


def with_launch_action() -> bytes:
    def launch(writer: PdfWriter) -> None:
        action = DictionaryObject({NameObject("/S"): NameObject("/Launch"),
                                   NameObject("/F"): TextStringObject("calc.exe")})
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    return _rewritten(launch)


def encrypted() -> bytes:
    return _rewritten(lambda w: w.encrypt("secret"))


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()
