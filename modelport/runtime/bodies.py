"""Small helpers for request bodies, shared by the array parsers and the wire protocols."""

from __future__ import annotations

import json
from typing import Any

import orjson

from modelport.errors import InvalidInputError
from modelport.runtime.request import Body


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type, lower-case, without parameters (``""`` if none)."""
    return content_type.split(";", 1)[0].strip().lower() if content_type else ""


def is_json_type(content_type: str | None) -> bool:
    """Whether a Content-Type is JSON (``application/json``, ``application/*+json``) or absent."""
    if not content_type:
        return True
    mt = media_type(content_type)
    return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))


def parse_json(body: Body) -> Any:
    """Parse a JSON body; orjson first, the standard library for what only it accepts (NaN)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as first:
        try:
            return json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
            raise InvalidInputError(f"the request body is not valid JSON: {first}") from first


def json_kind(value: Any) -> str:
    """What a JSON value is, for messages: ``an array``, ``a string``, ``null``..."""
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(value), "null" if value is None else type(value).__name__)
