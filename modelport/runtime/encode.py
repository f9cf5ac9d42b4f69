"""Turn what run() returned into an HTTP body: JSON via orjson, numpy included."""

from __future__ import annotations

import datetime as _dt
import decimal
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from modelport.runtime.response import AMLResponse

JSON = "application/json"
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


@dataclass(slots=True)
class Encoded:
    """An HTTP response body with its status and the headers run() chose."""

    status: int
    body: bytes
    content_type: str | None
    headers: list[tuple[str, str]] = field(default_factory=list)


def _default(obj: Any) -> Any:
    # orjson calls this for types it does not know; give it something it does.
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict) and hasattr(obj, "columns"):  # pandas.DataFrame: a list of row objects
        return to_dict(orient="records")
    tolist = getattr(obj, "tolist", None)  # numpy arrays orjson cannot take, pandas Series, scalars
    if callable(tolist):
        return tolist()
    if isinstance(obj, set | frozenset):
        return list(obj)
    if isinstance(obj, decimal.Decimal):
        return float(obj)
    if isinstance(obj, bytes | bytearray):
        return bytes(obj).decode("utf-8", "replace")
    if isinstance(obj, uuid.UUID | _dt.timedelta):
        return str(obj)
    if callable(to_dict):
        return to_dict()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """JSON bytes for ``value`` (numpy arrays and scalars, dataclasses, datetimes, sets...)."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def encode_result(value: Any) -> Encoded:
    """The response for run()'s return value: an AMLResponse as it is, raw bytes as
    ``application/octet-stream``, anything else as JSON (a ``str`` becomes a JSON string, as in v1)."""
    if isinstance(value, AMLResponse):
        headers = [(k, v) for k, v in value.headers.items() if k.lower() != "content-type"]
        return Encoded(value.status_code, value.data, value.content_type, headers)
    if isinstance(value, bytes | bytearray | memoryview):
        return Encoded(200, bytes(value), "application/octet-stream")
    return Encoded(200, dumps(value), JSON)
