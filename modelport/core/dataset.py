"""``Dataset``, for v1 code that does ``from azureml.core import Dataset``.

Only file datasets over local files or public URLs are supported: ``Dataset.File.from_files``.
Registered datasets (``Dataset.get_by_name``) are not, and say so.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

from modelport.errors import InvalidInputError, NotFoundError
from modelport.opendatasets._filedataset import DatasetFile, FileDataset

__all__ = ["Dataset", "FileDataset"]

PathArg = str | os.PathLike[str]


class _FileDatasetFactory:
    """``Dataset.File``: build a :class:`FileDataset`."""

    @staticmethod
    def from_files(path: PathArg | Sequence[PathArg]) -> FileDataset:
        """A file dataset over local files, folders, glob patterns or ``http(s)://`` URLs.

        A folder stands for every file under it; a pattern may use ``**``. The files keep their
        layout relative to the common folder of what was given; a URL's file lands at its name.
        A path that matches no file is a :class:`~modelport.errors.NotFoundError`.

        Example::

            >>> from modelport.core import Dataset
            >>> ds = Dataset.File.from_files("raw/**/*.gz")
            >>> ds.download("data", overwrite=True)
        """
        items = [path] if isinstance(path, str | os.PathLike) else list(path)
        urls: list[str] = []
        local: list[tuple[Path, Path]] = []  # (file, the folder its layout is relative to)
        for item in items:
            text = os.fspath(item)
            if text.startswith(("http://", "https://")):
                urls.append(text)
                continue
            found = _expand(text)
            if not found:
                raise NotFoundError(f"no file found at {text}")
            local.extend(found)
        files = [DatasetFile(path=_url_file_name(url), source=url) for url in urls]
        if local:
            base = Path(os.path.commonpath([root for _, root in local]))
            files += [DatasetFile(path=f.relative_to(base).as_posix(), source=str(f)) for f, _ in local]
        return FileDataset(files)


def _url_file_name(url: str) -> str:
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    if not name:
        raise InvalidInputError(f"cannot tell a file name from the URL {url}")
    return name


def _has_magic(text: str) -> bool:
    return any(c in text for c in "*?[")


def _abs(path: PathArg) -> Path:
    return Path(os.path.abspath(path))


def _expand(text: str) -> list[tuple[Path, Path]]:
    """The files ``text`` stands for, each with the folder its layout is relative to."""
    if _has_magic(text):
        parts = Path(text).parts
        fixed = parts[: next(i for i, part in enumerate(parts) if _has_magic(part))]
        root = _abs(Path(*fixed)) if fixed else Path.cwd()
        matches = sorted(_abs(m) for m in glob.glob(text, recursive=True))
        return [(m, root) for m in matches if m.is_file()]
    p = _abs(text)
    if p.is_dir():
        return [(f, p) for f in sorted(p.rglob("*")) if f.is_file()]
    if p.is_file():
        return [(p, p.parent)]
    return []


class Dataset:
    """v1's ``azureml.core.Dataset``, reduced to what runs locally.

    Example::

        >>> from modelport.core import Dataset
        >>> Dataset.File.from_files("data/mnist").to_path()
        ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', ...]
    """

    File = _FileDatasetFactory

    @staticmethod
    def get_by_name(workspace: Any, name: str, version: str | int = "latest") -> NoReturn:
        """Not supported yet: modelport has no dataset registry.

        Build the dataset where it is used instead, e.g. ``Dataset.File.from_files(path)`` or
        ``MNIST.get_file_dataset()``.
        """
        raise InvalidInputError(
            f"registered datasets are not supported yet, so dataset '{name}' cannot be fetched by name; "
            "use Dataset.File.from_files(path) or modelport.opendatasets.MNIST.get_file_dataset()"
        )
