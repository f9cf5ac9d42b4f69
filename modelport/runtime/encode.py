"""Turn what run() returned into an HTTP body: JSON via orjson, numpy included."""

from __future__ import annotations

import datetime as _dt
import decimal
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from modelport.errors import ScriptError
from modelport.runtime.response import AMLResponse

JSON = "application/json"
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token
_HEADER_VALUE_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # control characters but tab


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


def _check_header(name: str, value: str) -> None:
    # A header run() builds from its input must not be able to split the response (CR/LF) or
    # fail while being sent: refuse it here, so the client gets run()'s 500 saying why.
    problem = None
    if not _HEADER_NAME.fullmatch(name):
        problem = f"run() returned an invalid response header name {name!r}"
    elif _HEADER_VALUE_BAD.search(value):
        problem = f"run()'s response header {name!r} holds a control character (CR, LF, NUL...)"
    elif not value.isascii():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            problem = f"run()'s response header {name!r} is not latin-1 text"
    if problem is not None:
        raise ScriptError("run", "ValueError", problem)


def encode_result(value: Any) -> Encoded:
    """The response for run()'s return value: an AMLResponse as it is, raw bytes as
    ``application/octet-stream``, anything else as JSON (a ``str`` becomes a JSON string, as in v1)."""
    if isinstance(value, AMLResponse):
        headers = [(k, v) for k, v in value.headers.items() if k.lower() != "content-type"]
        for name, text in [*headers, ("Content-Type", value.content_type or "")]:
            _check_header(str(name), str(text))
        return Encoded(value.status_code, value.data, value.content_type, headers)
    if isinstance(value, bytes | bytearray | memoryview):
        return Encoded(200, bytes(value), "application/octet-stream")
    return Encoded(200, dumps(value), JSON)
