"""``AMLResponse``: what a run() returns to choose its own status and headers.

Imported by scripts as ``modelport.contrib.services.aml_response`` (v1: ``azureml.contrib...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["AMLResponse"]


class AMLResponse:
    """An HTTP response from run(), as in v1.

    ``message`` is the body: ``str`` (sent as UTF-8), ``bytes`` (sent as is), or, with
    ``json_str=True`` (or when it is a dict/list), any JSON-serializable value.

    >>> AMLResponse("not allowed", 403, {"x-reason": "policy"}).status_code
    403
    """

    def __init__(
        self,
        message: Any,
        status_code: int,
        headers: Mapping[str, str] | None = None,
        json_str: bool = False,
        *,
        response_headers: Mapping[str, str] | None = None,
    ) -> None:
        if not 100 <= int(status_code) <= 599:
            raise ValueError(f"status_code must be between 100 and 599, got {status_code}")
        self.status_code = int(status_code)
        self.headers: dict[str, str] = {**(response_headers or {}), **(headers or {})}
        lower = {k.lower() for k in self.headers}
        if json_str or isinstance(message, dict | list):
            self.data = orjson.dumps(message, option=orjson.OPT_SERIALIZE_NUMPY)
            default_type = "application/json"
        elif isinstance(message, bytes | bytearray | memoryview):
            self.data = bytes(message)
            default_type = "application/octet-stream"
        else:
            self.data = ("" if message is None else str(message)).encode("utf-8")
            default_type = "text/plain; charset=utf-8"
        if "content-type" not in lower:
            self.headers["Content-Type"] = default_type

    @property
    def status(self) -> str:
        """The status as v1's flask response showed it (``"200 OK"`` style, code only here)."""
        return str(self.status_code)

    @property
    def content_type(self) -> str:
        """The response's Content-Type."""
        return next(v for k, v in self.headers.items() if k.lower() == "content-type")

    def get_data(self, as_text: bool = False) -> bytes | str:
        """The body, as bytes or (``as_text=True``) decoded as UTF-8."""
        return self.data.decode("utf-8", "replace") if as_text else self.data

    def __repr__(self) -> str:
        return f"<AMLResponse {self.status_code} {len(self.data)} bytes>"
