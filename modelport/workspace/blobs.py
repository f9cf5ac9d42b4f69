"""A content-addressed blob store: every file is kept once, named by its sha256."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from modelport.errors import IntegrityError, StorageError

_CHUNK = 1 << 20


class BlobStore:
    """Files addressed by sha256 under ``root/sha256/ab/<digest>``; written atomically, read-only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"

    def path(self, digest: str) -> Path:
        return self.root / "sha256" / digest[:2] / digest

    def put_file(self, source: Path) -> tuple[str, int]:
        """Copy ``source`` into the store; return its (sha256, size). Idempotent."""
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256()
            size = 0
            fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="put-")
            try:
                with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                    while chunk := src.read(_CHUNK):
                        h.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                digest = h.hexdigest()
                final = self.path(digest)
                if final.exists():
                    os.unlink(tmp_name)
                else:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.chmod(tmp_name, 0o444)
                    os.replace(tmp_name, final)
                return digest, size
            except BaseException:
                if os.path.exists(tmp_name):
                    os.unlink(tmp_name)
                raise
        except OSError as exc:
            raise StorageError(f"cannot store '{source}' in {self.root}: {exc.strerror or exc}") from exc

    def copy_out(self, digest: str, target: Path, what: str) -> None:
        """Copy a blob to ``target``, verifying its sha256; on a mismatch nothing is left at ``target``.

        ``what`` names the file for error messages (e.g. ``model 'm:1' file 'a/b.pkl'``).
        """
        src = self.path(digest)
        if not src.is_file():
            raise IntegrityError(f"{what}: stored blob {src} is missing")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
            if h.hexdigest() != digest:
                raise IntegrityError(
                    f"{what}: stored blob {src} is corrupted "
                    f"(sha256 {h.hexdigest()}, expected {digest}); refusing to hand it out"
                )
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, target)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def verify(self, digest: str, what: str) -> None:
        """Raise IntegrityError unless the blob exists and still hashes to ``digest``."""
        src = self.path(digest)
        if not src.is_file():
            raise IntegrityError(f"{what}: stored blob {src} is missing")
        h = hashlib.sha256()
        with open(src, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        if h.hexdigest() != digest:
            raise IntegrityError(
                f"{what}: stored blob {src} is corrupted (sha256 {h.hexdigest()}, expected {digest})"
            )

    def clear_tmp(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)
