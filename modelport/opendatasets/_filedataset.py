"""FileDataset: a list of files, each with where to fetch it from and the sha256 it must have.

A download copies (local source) or fetches (``http(s)://`` source) each file into a temporary
file next to its destination, checks the digest, then renames it into place: a reader never sees a
half-written or unverified file, and a failed download leaves nothing behind.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import requests
from urllib3.exceptions import HTTPError as Urllib3Error

from modelport.errors import IntegrityError, InvalidInputError, ModelportError, NotFoundError

__all__ = ["DatasetFile", "FileDataset"]

_CHUNK = 1 << 20
_TIMEOUT = (10.0, 60.0)  # seconds: connect, then between two reads


@dataclass(frozen=True)
class DatasetFile:
    """One file of a :class:`FileDataset`.

    - ``path``: where the file lands under a download's target folder (relative, ``/``-separated).
    - ``source``: a local file path or an ``http://`` / ``https://`` URL.
    - ``sha256``: the digest the file must have; ``None`` means not checked.
    - ``content_sha256``: the digest of the file's gzip-decompressed content, accepted when
      ``sha256`` does not match (the same data in another gzip wrapper, as mirrors serve it).

    Example::

        >>> DatasetFile("mnist/t10k-labels-idx1-ubyte.gz", "https://example.org/t10k-labels-idx1-ubyte.gz")
    """

    path: str
    source: str
    sha256: str | None = None
    content_sha256: str | None = None

    def __post_init__(self) -> None:
        parts = PurePosixPath(self.path).parts
        if not parts or parts[0] == "/" or ".." in parts:
            raise InvalidInputError(
                f"dataset file path {self.path!r} must be a relative path that stays inside the target folder"
            )

    @property
    def is_remote(self) -> bool:
        return self.source.startswith(("http://", "https://"))


class FileDataset:
    """A set of files to download, like v1's ``azureml.data.FileDataset``.

    Build one with ``MNIST.get_file_dataset()`` or ``Dataset.File.from_files(path)``.

    Example::

        >>> from modelport.opendatasets import MNIST
        >>> ds = MNIST.get_file_dataset()
        >>> ds.to_path()[0]
        'mnist/train-images-idx3-ubyte.gz'
        >>> paths = ds.download("data", overwrite=True)   # data/mnist/*.gz, verified
    """

    def __init__(self, files: Iterable[DatasetFile]) -> None:
        self._files = tuple(files)
        seen: set[str] = set()
        for f in self._files:
            key = PurePosixPath(f.path).as_posix()
            if key in seen:
                raise InvalidInputError(f"two files of the dataset would both be written to {key!r}")
            seen.add(key)

    @property
    def files(self) -> tuple[DatasetFile, ...]:
        """The files of the dataset, in download order."""
        return self._files

    def register(
        self,
        workspace: Any,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        create_new_version: bool = False,
    ) -> Any:
        """Register the dataset in ``workspace`` (as v1 did in the MNIST tutorial): its files are
        copied, verified, into the workspace's default datastore, and the registered dataset (a
        ``modelport.core.dataset.FileDataset``) is returned. The workspace registers it: v1's
        ``Workspace`` (``modelport.core``, a layer above this one) knows how."""
        register = getattr(workspace, "_register_file_dataset", None)
        if register is None:
            raise InvalidInputError("registering a dataset needs a Workspace from modelport.core")
        return register(self, name, description, tags, create_new_version)

    def to_path(self) -> list[str]:
        """The files' paths relative to a download's target folder.

        v1 returned them with a leading ``/``; these have none, so ``os.path.join(target, p)`` works.
        """
        return [PurePosixPath(f.path).as_posix() for f in self._files]

    def download(
        self, target_path: str | os.PathLike[str] | None = None, overwrite: bool = False
    ) -> list[str]:
        """Write the files under ``target_path`` and return their absolute paths.

        ``target_path`` defaults to a new temporary folder. A file already there is kept unless
        ``overwrite`` is true; if the dataset records its checksum and it does not match, that is an
        :class:`~modelport.errors.IntegrityError` naming it (pass ``overwrite=True`` to replace it).
        A fetched file whose checksum does not match raises ``IntegrityError`` and is not written.
        (v1 raised when a file existed and ``overwrite`` was false; keeping it is what re-runs want.)

        Example::

            >>> MNIST.get_file_dataset().download("data")
            ['/home/me/data/mnist/train-images-idx3-ubyte.gz', ...]
        """
        if target_path is None:
            target = Path(tempfile.mkdtemp(prefix="modelport-dataset-"))
        else:
            target = Path(target_path)
        written: list[str] = []
        with requests.Session() as session:
            for f in self._files:
                dest = target.joinpath(*PurePosixPath(f.path).parts)
                if dest.exists() and not dest.is_file():
                    raise InvalidInputError(f"cannot write {f.path}: {dest} exists and is not a file")
                if dest.exists() and not overwrite:
                    _check_existing(f, dest)
                else:
                    _fetch(f, dest, session)
                written.append(os.path.abspath(dest))
        return written

    def __repr__(self) -> str:
        return f"FileDataset({self.to_path()!r})"


def _check_existing(f: DatasetFile, dest: Path) -> None:
    if f.sha256 is None:
        return
    actual = _sha256_file(dest)
    if not _matches(f, dest, actual):
        raise IntegrityError(
            f"{dest} already exists and is not the expected {f.path}: its sha256 is {actual}, "
            f"expected {f.sha256}; pass overwrite=True to replace it"
        )


def _fetch(f: DatasetFile, dest: Path, session: requests.Session) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            actual = _copy_url(f.source, out, session) if f.is_remote else _copy_file(f.source, out)
        if f.sha256 is not None and not _matches(f, tmp, actual):
            raise IntegrityError(
                f"{f.path} from {f.source} does not match its checksum: sha256 {actual}, "
                f"expected {f.sha256}; nothing was written to {dest}"
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a data file is readable like any other
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _copy_file(source: str, out: BinaryIO) -> str:
    digest = hashlib.sha256()
    try:
        src = open(source, "rb")  # noqa: SIM115 (closed by the with below; open errors mapped here)
    except FileNotFoundError as exc:
        raise NotFoundError(f"dataset file {source} not found") from exc
    with src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _copy_url(url: str, out: BinaryIO, session: requests.Session) -> str:
    digest = hashlib.sha256()
    try:
        # identity + raw bytes: a .gz must be saved as served, never transparently decompressed.
        with session.get(url, stream=True, timeout=_TIMEOUT, headers={"Accept-Encoding": "identity"}) as resp:
            if resp.status_code in (404, 410):
                raise NotFoundError(f"{url} not found (HTTP {resp.status_code})")
            if resp.status_code != 200:
                raise ModelportError(f"downloading {url} failed: HTTP {resp.status_code} {resp.reason}")
            for chunk in resp.raw.stream(_CHUNK, decode_content=False):
                digest.update(chunk)
                out.write(chunk)
    except (requests.RequestException, Urllib3Error) as exc:
        raise ModelportError(f"could not download {url}: {exc}") from exc
    return digest.hexdigest()


def _matches(f: DatasetFile, path: Path, actual: str) -> bool:
    if actual == f.sha256:
        return True
    return f.content_sha256 is not None and _gunzipped_sha256(path) == f.content_sha256


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _gunzipped_sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as src:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):  # not gzip, or truncated
        return None
    return digest.hexdigest()
