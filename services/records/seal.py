"""The hub's electronic seal on the records it prints (PAdES, with pyHanko). Production
points VIGIE_SEAL_KEY_FILE / VIGIE_SEAL_CERT_FILE (and VIGIE_SEAL_CHAIN_FILE) at a
qualified seal certificate and its key, from a mounted secret; development generates a
self-signed one in the state directory (0600) at first use."""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

from ..config import Settings

FIELD = "CachetVigie"


def seal_files(settings: Settings) -> tuple[Path, Path, list[Path]]:
    """The key, the certificate and the chain (generated for development when unset)."""
    if settings.seal_key_file and settings.seal_cert_file:
        chain = [Path(settings.seal_chain_file)] if settings.seal_chain_file else []
        return Path(settings.seal_key_file), Path(settings.seal_cert_file), chain
    folder = settings.state_dir / "seal"
    key, cert = folder / "seal-key.pem", folder / "seal-cert.pem"
    if not (key.exists() and cert.exists()):
        _generate(folder, key, cert, settings.issuer)
    return key, cert, []


def _generate(folder: Path, key_path: Path, cert_path: Path, issuer: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Vigie (développement)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"Cachet Vigie {issuer}"[:64])])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    tmp_key = key_path.with_suffix(".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    cert_path.with_suffix(".tmp").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, key_path)
    os.replace(cert_path.with_suffix(".tmp"), cert_path)


class Sealer:
    """Signs PDFs with the hub's seal (loaded once per process)."""

    def __init__(self, settings: Settings):
        from pyhanko.sign import signers

        key, cert, chain = seal_files(settings)
        self.cert_file = cert
        self.signer = signers.SimpleSigner.load(str(key), str(cert),
                                                ca_chain_files=[str(c) for c in chain])
        if self.signer is None:
            raise ValueError(f"the seal key {key} or certificate {cert} does not load")

    def seal(self, pdf: bytes, reason: str) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers

        meta = signers.PdfSignatureMetadata(
            field_name=FIELD, md_algorithm="sha256", reason=reason, location="France",
            subfilter=fields.SigSeedSubFilter.PADES)
        out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta,
                               signer=self.signer)
        return out.getvalue()


def verify(pdf: bytes, trusted_cert: Path) -> dict[str, object]:
    """The seal's status against a pinned certificate (the hub's, or its CA's)."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    reader = PdfFileReader(io.BytesIO(pdf))
    if not reader.embedded_signatures:
        return {"sealed": False}
    signature = reader.embedded_signatures[0]
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(trusted_cert))])
    status = validate_pdf_signature(signature, context)
    return {"sealed": True, "intact": status.intact, "valid": status.valid,
            "trusted": status.trusted, "covers_whole_document": status.coverage is not None
            and status.coverage.name == "ENTIRE_FILE",
            "signer": status.signing_cert.subject.human_friendly,
            "signed_at": status.signer_reported_dt.isoformat()
            if status.signer_reported_dt else None,
            "bottom_line": status.bottom_line}
