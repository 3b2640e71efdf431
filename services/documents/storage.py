"""Where documents' encrypted bytes are kept: files under the state directory (the
embedded default, for `make run` and the tests) or an S3-compatible object store
(production), chosen by VIGIE_DOCUMENT_STORE. Objects are named by the digest of what is
stored, written once, never changed; the database says which document they belong to."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from ..config import Settings

PIECE = 256 * 1024


class Missing(LookupError):
    """No stored object by that name."""


@dataclass
class Staged:
    """Encrypted bytes written aside, named by their digest once complete."""

    file: IO[bytes]
    name: str
    size: int


class Storage(Protocol):
    def stage(self, pieces: Iterable[bytes]) -> Staged: ...
    def commit(self, staged: Staged) -> None: ...
    def discard(self, staged: Staged) -> None: ...
    def read(self, name: str) -> Iterator[bytes]: ...
    def delete(self, name: str) -> None: ...
    def exists(self, name: str) -> bool: ...
    def ensure(self) -> None: ...


def _write_hashed(out: IO[bytes], pieces: Iterable[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for piece in pieces:
        out.write(piece)
        digest.update(piece)
        size += len(piece)
    out.flush()
    return digest.hexdigest(), size


class FileStorage:
    """Objects as files under `root/<2 hex>/<digest>`, written to a temporary file in the
    same directory tree and renamed into place (a reader never sees half an object)."""

    def __init__(self, root: Path):
        self.root = root
        (root / "staging").mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        if len(name) != 64 or any(c not in "0123456789abcdef" for c in name):
            raise Missing(name)
        return self.root / name[:2] / name

    def stage(self, pieces: Iterable[bytes]) -> Staged:
        out = tempfile.NamedTemporaryFile(dir=self.root / "staging", delete=False)  # noqa: SIM115
        try:
            name, size = _write_hashed(out, pieces)
            os.fsync(out.fileno())
        except BaseException:
            out.close()
            os.unlink(out.name)
            raise
        return Staged(out, name, size)

    def commit(self, staged: Staged) -> None:
        path = self._path(staged.name)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        staged.file.close()
        os.replace(staged.file.name, path)

    def discard(self, staged: Staged) -> None:
        staged.file.close()
        with _ignore_missing():
            os.unlink(staged.file.name)

    def read(self, name: str) -> Iterator[bytes]:
        try:
            stream = open(self._path(name), "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise Missing(name) from None

        def pieces() -> Iterator[bytes]:
            with stream:
                while piece := stream.read(PIECE):
                    yield piece
        return pieces()

    def delete(self, name: str) -> None:
        with _ignore_missing():
            self._path(name).unlink()

    def ensure(self) -> None:
        return None  # made by the constructor

    def exists(self, name: str) -> bool:
        try:
            return self._path(name).exists()
        except Missing:
            return False


class _ignore_missing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, value, tb) -> bool:
        return kind is not None and issubclass(kind, FileNotFoundError | Missing)


class S3Storage:
    """An S3-compatible bucket (boto3). An object is uploaded from the staged file in
    parts, one at a time (a bounded amount of memory whatever the document's size)."""

    def __init__(self, settings: Settings):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = settings.document_s3_bucket
        self.prefix = settings.document_s3_prefix
        self.client = boto3.client(
            "s3", endpoint_url=settings.document_s3_endpoint or None,
            region_name=settings.document_s3_region or "us-east-1",
            aws_access_key_id=settings.document_s3_access_key or None,
            aws_secret_access_key=settings.document_s3_secret_key or None,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                          signature_version="s3v4"))
        self.transfer = TransferConfig(multipart_threshold=8 * 1024 * 1024,
                                       multipart_chunksize=8 * 1024 * 1024,
                                       max_concurrency=1, use_threads=False)

    def _key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def ensure(self) -> None:
        """Create the bucket if it does not exist (`vigie setup`)."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def stage(self, pieces: Iterable[bytes]) -> Staged:
        out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by commit or discard
        name, size = _write_hashed(out, pieces)
        return Staged(out, name, size)

    def commit(self, staged: Staged) -> None:
        with staged.file:
            staged.file.seek(0)
            self.client.upload_fileobj(staged.file, self.bucket, self._key(staged.name),
                                       Config=self.transfer)

    def discard(self, staged: Staged) -> None:
        staged.file.close()

    def read(self, name: str) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise Missing(name) from None
            raise

        def pieces() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(PIECE)
            finally:
                body.close()
        return pieces()

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))

    def exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(name))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise


def storage_for(settings: Settings) -> Storage:
    if settings.document_store == "s3":
        return S3Storage(settings)
    if settings.document_store == "files":
        return FileStorage(settings.state_dir / "documents")
    raise ValueError(f"VIGIE_DOCUMENT_STORE must be files or s3, not {settings.document_store!r}")
