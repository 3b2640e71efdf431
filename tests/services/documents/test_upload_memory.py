"""A 20 MB upload through a real `vigie serve` API process costs it less than 100 MB of
memory above idle: the body is streamed to disk while hashed, inspected from there, and
encrypted to storage in chunks; the download is streamed back the same way."""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path

import httpx

from services.runner import LOCAL_LOAD_LIMITS, HubProcesses
from tests.services.documents import pdfs
from tests.services.test_server import _named

MIB = 1024 * 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def _twenty_megabytes() -> bytes:
    """A valid PDF of about 20 MB (a scan's weight): pages of incompressible noise."""
    return _pdf_of(8)


def _pdf_of(pages: int) -> bytes:
    """A valid PDF of `pages` pages of incompressible noise (2.4 MiB each)."""
    import io
    import os

    from fpdf import FPDF
    from PIL import Image

    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        noise = Image.frombytes("RGB", (1000, 830), os.urandom(1000 * 830 * 3))
        buffer = io.BytesIO()
        noise.save(buffer, format="PNG", compress_level=0)
        pdf.image(buffer, x=0, y=0, w=210)
    return bytes(pdf.output())


def test_a_twenty_megabyte_upload_keeps_the_api_under_a_hundred_megabytes_more(
        broker, database_factory, tmp_path):
    content = _twenty_megabytes()
    assert 18 * MIB < len(content) <= 20 * MIB, len(content)
    hub = HubProcesses(tmp_path, database_factory("sqlite"), broker.settings.kafka_port,
                       workers=1, extra_env=LOCAL_LOAD_LIMITS)
    hub.setup()
    hub.start_api()
    try:
        (worker,) = _named(hub.api.pid, "vigie-api")
        creds = hub.creds["pr-paris"]
        with httpx.Client(base_url=hub.url, timeout=120) as client:
            token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                auth=(creds["client_id"], creds["client_secret"])
                                ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            # Warm: the first upload loads the PDF and S3 libraries; measured after it.
            small = client.post("/v1/documents", content=pdfs.plain_pdf(),
                                headers={**auth, "Content-Type": "application/pdf",
                                         "Idempotency-Key": str(uuid.uuid4())})
            assert small.status_code == 201, small.text
            idle = _status_kib(worker, "VmRSS")
            peak_before = _status_kib(worker, "VmHWM")

            def body():
                for at in range(0, len(content), MIB):
                    yield content[at:at + MIB]

            resp = client.post("/v1/documents", content=body(),
                               headers={**auth, "Content-Type": "application/pdf",
                                        "Content-Length": str(len(content)),
                                        "Idempotency-Key": str(uuid.uuid4())})
            assert resp.status_code == 201, resp.text
            assert resp.json()["sha256"] == hashlib.sha256(content).hexdigest()
            digest = hashlib.sha256()
            with client.stream("GET", f"/v1/documents/{resp.json()['id']}",
                               headers=auth) as got:
                assert got.status_code == 200
                for piece in got.iter_bytes():
                    digest.update(piece)
            assert digest.hexdigest() == resp.json()["sha256"]
            peak = _status_kib(worker, "VmHWM")

            # A slow client (a 5 MB scan sent over two seconds) is not refused as overload:
            # the hub's queue budget (0.4 s here, as in production) counts from the end
            # of the body, and the commit's from the end of the storing.
            pdf = _pdf_of(2)

            def slowly():
                for at in range(0, len(pdf), 100 * 1024):
                    time.sleep(0.04)
                    yield pdf[at:at + 100 * 1024]

            slow = client.post("/v1/documents", content=slowly(),
                               headers={**auth, "Content-Type": "application/pdf",
                                        "Content-Length": str(len(pdf)),
                                        "Idempotency-Key": str(uuid.uuid4())})
            assert slow.status_code == 201, slow.text
        grown_mib = (max(peak, peak_before) - idle) / 1024
        print(f"API worker: idle {idle / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, "
              f"+{grown_mib:.1f} MiB for a {len(content) / MIB:.1f} MiB upload and download")
        assert peak - idle < 100 * 1024, f"+{grown_mib:.1f} MiB"
    finally:
        hub.stop()
