"""What ``run()`` returned, as v1's ``append_row`` writes it.

A list (or tuple, array, any sized iterable but a string) gives one line per element, written
with ``str()``; a pandas DataFrame one line per row, its values separated by spaces with no
header and no index (pandas' ``to_csv(sep=" ")``, so a value holding a space is quoted). The
number of elements is how many items succeeded; the rest of the mini-batch counts as failed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ReturnValueError", "encode"]


class ReturnValueError(Exception):
    """run() returned something that is not one element per succeeded item."""


def encode(value: Any, *, keep_rows: bool) -> tuple[int, bytes]:
    """``(number of elements, the lines)``; with ``keep_rows`` False (``summary_only``) only the
    number is worked out."""
    if value is None:
        raise ReturnValueError(
            "run() returned None: return a list or a pandas DataFrame with one element per item "
            "that succeeded"
        )
    if _is_dataframe(value):
        n = len(value)
        if not keep_rows or n == 0:
            return n, b""
        text: str = value.to_csv(sep=" ", header=False, index=False, lineterminator="\n")
        return n, text.encode("utf-8")
    if (
        isinstance(value, str | bytes | dict)
        or not hasattr(value, "__len__")
        or not hasattr(value, "__iter__")
    ):
        raise ReturnValueError(
            f"run() returned a {type(value).__name__}: return a list or a pandas DataFrame with one "
            "element per item that succeeded"
        )
    n = len(value)
    if not keep_rows or n == 0:
        return n, b""
    return n, "".join(f"{element}\n" for element in value).encode("utf-8")


def _is_dataframe(value: Any) -> bool:
    cls = type(value)
    return cls.__name__ == "DataFrame" and cls.__module__.startswith("pandas")
