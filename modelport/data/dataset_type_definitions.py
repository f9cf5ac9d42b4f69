"""v1's ``azureml.data.dataset_type_definitions``: the enums the ``Dataset`` factories take.

``PromoteHeadersBehavior`` and ``SkipLinesBehavior`` are read by
``Dataset.Tabular.from_delimited_files(header=..., ...)``; a ``FileEncoding`` is the codec the
files are read with (its value is Python's name for it, so ``encoding=FileEncoding.LATIN1`` and
``encoding="latin-1"`` are the same).

Example::

    from modelport.data.dataset_type_definitions import FileEncoding, PromoteHeadersBehavior
    ds = Dataset.Tabular.from_delimited_files(
        path, header=PromoteHeadersBehavior.ALL_FILES_HAVE_SAME_HEADERS, encoding=FileEncoding.UTF8
    )
"""

from __future__ import annotations

from enum import Enum, StrEnum

__all__ = [
    "FileEncoding",
    "FileType",
    "HistogramCompareMethod",
    "PromoteHeadersBehavior",
    "SkipLinesBehavior",
]


class HistogramCompareMethod(Enum):
    """How two profiles' histograms are compared (v1's ``Dataset.compare_profiles``)."""

    WASSERSTEIN = 0
    ENERGY = 1


class PromoteHeadersBehavior(Enum):
    """Which first rows are column headers (v1's ``header=`` of ``from_delimited_files``)."""

    NO_HEADERS = 0
    ONLY_FIRST_FILE_HAS_HEADERS = 1
    COMBINE_ALL_FILES_HEADERS = 2
    ALL_FILES_HAVE_SAME_HEADERS = 3


class SkipLinesBehavior(Enum):
    """Which files leading lines are skipped from."""

    NO_ROWS = 0
    FROM_FIRST_FILE_ONLY = 1
    FROM_ALL_FILES = 2


class FileEncoding(StrEnum):
    """A file encoding; the value is the Python codec that reads it."""

    UTF8 = "utf-8"
    ISO88591 = "iso-8859-1"
    LATIN1 = "latin-1"
    ASCII = "ascii"
    UTF16 = "utf-16"
    UTF32 = "utf-32"
    UTF8BOM = "utf-8-sig"
    WINDOWS1252 = "cp1252"


class FileType(StrEnum):
    """v1's file types (deprecated in v1 itself for plain strings); the values are v1's."""

    GENERIC_CSV = "GenericCSV"
    GENERIC_CSV_NO_HEADER = "GenericCSVNoHeader"
    GENERIC_TSV = "GenericTSV"
    GENERIC_TSV_NO_HEADER = "GenericTSVNoHeader"
    ZIP = "Zip"
    UNKNOWN = "Unknown"
