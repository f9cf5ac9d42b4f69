"""The transport-agnostic request a scoring script is called with.

The server turns an HTTP request into a :class:`ScoringRequest` (body already read) and the runtime
never sees the web framework. ``AMLRequest`` (the v1 ``@rawhttp`` view) is built over it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

Body = bytes | bytearray  # the server hands a large body over as the bytearray it read it into


class Headers(dict[str, str]):
    """Request headers as a ``dict`` with Title-Case keys and case-insensitive lookups.

    v1 scripts did ``dict(request.headers)`` and ``headers.get("Content-Type")``; both work here.

    >>> Headers([(b"content-type", b"application/json")])["CONTENT-TYPE"]
    'application/json'
    """

    def __init__(self, raw: Iterable[tuple[bytes, bytes]] = ()) -> None:
        super().__init__()
        for name, value in raw:
            key = _title(name.decode("latin-1"))
            text = value.decode("latin-1")
            # Repeated headers are folded the way HTTP allows: comma-separated.
            dict.__setitem__(self, key, f"{dict.__getitem__(self, key)}, {text}" if key in self else text)

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, _title(key))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and dict.__contains__(self, _title(key))

    def get(self, key: str, default: Any = None) -> Any:
        return dict.get(self, _title(key), default)


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


@dataclass(slots=True)
class ScoringRequest:
    """One HTTP request to ``/score``, body already read, as plain data."""

    method: str
    path: str
    query_string: bytes = b""
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: Body = b""
    scheme: str = "http"
    server: tuple[str, int] | None = None
    client: tuple[str, int] | None = None
    request_id: str = ""

    @classmethod
    def from_scope(cls, scope: dict[str, Any], body: Body = b"", request_id: str = "") -> ScoringRequest:
        """The request an ASGI ``scope`` describes, with its ``body`` read by the server.

        >>> ScoringRequest.from_scope({"method": "GET", "path": "/score", "headers": []}).method
        'GET'
        """
        return cls(
            method=scope["method"],
            path=scope["path"],
            query_string=scope.get("query_string", b""),
            raw_headers=scope["headers"],
            body=body,
            scheme=scope.get("scheme", "http"),
            server=scope.get("server"),
            client=scope.get("client"),
            request_id=request_id,
        )

    def header(self, name: bytes) -> str | None:
        """The first value of header ``name`` (lower-case bytes), or None."""
        for key, value in self.raw_headers:
            if key == name:
                return value.decode("latin-1")
        return None

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header as sent."""
        return self.header(b"content-type")

    def headers(self) -> Headers:
        """All headers as a :class:`Headers` dict."""
        return Headers(self.raw_headers)

    def query_items(self) -> list[tuple[str, str]]:
        """Query parameters in order, repeated names kept."""
        return parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True)

    def query_object(self) -> dict[str, Any]:
        """Query parameters as a JSON-like object: a repeated name becomes a list."""
        out: dict[str, Any] = {}
        for key, value in self.query_items():
            if key in out:
                prev = out[key]
                out[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
            else:
                out[key] = value
        return out
