"""uvicorn's httptools protocol with a deadline for each request's headers, answering JSON.

uvicorn times out idle keep-alive connections, but not a client that connects and sends nothing,
nor one that sends its request line and headers a byte at a time: such connections stay open for
as long as the client likes (measured: 20 s and counting), each holding a socket and a file
descriptor in a worker. Here a request's headers must be complete ``read_timeout_s`` after the
connection opened, or after the request's first byte; otherwise the client gets 408 (or, if it
never sent a byte, just a closed connection). The body's deadline is the app's (``read_body``).
A request the HTTP parser refuses (a bare CR in a header, obsolete line folding...) gets uvicorn's
400, but with a JSON ``{"message"}`` body like every other modelport error.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("modelport.server")


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol closing connections whose request headers are late. Use
    :func:`with_read_timeout` to get a subclass with the deadline set."""

    read_timeout_s: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._request_begun = False

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.read_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        self._request_begun = False
        super().on_headers_complete()

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        if self._request_begun:
            message = f"the request headers did not arrive within {self.read_timeout_s:g} s (read_timeout_s)"
            log.info("closed a connection whose request headers were late (%g s)", self.read_timeout_s)
            self._send_error("408 Request Timeout", message)
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        self._send_error("400 Bad Request", f"{msg.rstrip('.')}: the HTTP parser refused it")

    def _send_error(self, status: str, message: str) -> None:
        """A JSON error answered by the protocol itself (no request reached the app), then close."""
        body = orjson.dumps({"message": message})
        head = (
            f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)
        self.transport.close()


def with_read_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """A protocol class for uvicorn's ``Config(http=...)`` with this header deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"read_timeout_s": seconds})
