"""MNIST, shipped inside modelport (works offline) or fetched from a mirror, always verified."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

from modelport.errors import InvalidInputError
from modelport.opendatasets._filedataset import DatasetFile, FileDataset

__all__ = ["MNIST", "MNIST_URL_ENV"]

MNIST_URL_ENV = "MODELPORT_MNIST_URL"
"""Environment variable: a base URL to download MNIST from instead of using the shipped copy."""

DATA_DIR = Path(__file__).parent / "data" / "mnist"

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_FILTERS = {"all": _FILES["train"] + _FILES["test"], "train": _FILES["train"], "test": _FILES["test"]}


class MNIST:
    """The MNIST handwritten digits, like v1's ``azureml.opendatasets.MNIST``.

    60,000 training and 10,000 test images (28x28, uint8) with their labels, as the four classic
    idx files, gzip-compressed. License: CC BY-SA 3.0 (see ``data/mnist/README.md``).

    Example::

        >>> from modelport.opendatasets import MNIST
        >>> MNIST.get_file_dataset().download("data", overwrite=True)
        ['/home/me/data/mnist/train-images-idx3-ubyte.gz', ...]
    """

    @classmethod
    def get_file_dataset(
        cls,
        dataset_filter: str = "all",
        enable_telemetry: bool = True,
        *,
        source_url: str | None = None,
    ) -> FileDataset:
        """Return the MNIST files as a :class:`FileDataset`, laid out as ``mnist/<file>``.

        ``dataset_filter`` is ``"all"`` (the four files), ``"train"`` or ``"test"``.
        ``enable_telemetry`` is accepted for v1 compatibility; modelport sends no telemetry.

        The files come from the copy shipped inside modelport, unless ``source_url`` (or else the
        ``MODELPORT_MNIST_URL`` environment variable) names a base URL: then each file is fetched
        from ``<url>/<file name>``. Either way each file is checked against the shipped sha256
        before it is written (a mirror serving the same data in another gzip wrapper passes too).

        Example::

            >>> ds = MNIST.get_file_dataset("test", source_url="https://mirror.example.org/mnist")
            >>> ds.to_path()
            ['mnist/t10k-images-idx3-ubyte.gz', 'mnist/t10k-labels-idx1-ubyte.gz']
        """
        del enable_telemetry
        if dataset_filter not in _FILTERS:
            raise InvalidInputError(
                f"dataset_filter must be one of {', '.join(map(repr, _FILTERS))}, not {dataset_filter!r}"
            )
        base_url = source_url if source_url is not None else _source_url_from_env()
        if base_url and not base_url.startswith(("http://", "https://")):
            raise InvalidInputError(f"MNIST source URL must start with http:// or https://, not {base_url!r}")
        sums = _read_sums(DATA_DIR / "SHA256SUMS")
        content_sums = _read_sums(DATA_DIR / "SHA256SUMS.uncompressed")
        files = []
        for name in _FILTERS[dataset_filter]:
            source = f"{base_url.rstrip('/')}/{name}" if base_url else str(DATA_DIR / name)
            files.append(
                DatasetFile(
                    path=f"mnist/{name}",
                    source=source,
                    sha256=sums[name],
                    content_sha256=content_sums.get(name.removesuffix(".gz")),
                )
            )
        return FileDataset(files)

    @classmethod
    def get_tabular_dataset(cls, dataset_filter: str = "all", enable_telemetry: bool = True) -> NoReturn:
        """Not supported: v1 returned a pandas-backed TabularDataset.

        Use ``get_file_dataset().download(...)`` and read the files with the tutorial's ``load_data``.
        """
        raise InvalidInputError(
            "MNIST.get_tabular_dataset() is not supported by modelport; use "
            "MNIST.get_file_dataset().download(path) and read the idx files (see examples/mnist/utils.py)"
        )


def _source_url_from_env() -> str | None:
    # The one place this package reads the environment.
    return os.environ.get(MNIST_URL_ENV) or None


def _read_sums(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum`` output file: ``<hex digest>  <name>`` (or ``*<name>``) per line."""
    sums: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest.lower()
    return sums
