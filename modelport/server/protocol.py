"""uvicorn's httptools protocol with a deadline for each request's headers, answering JSON.

uvicorn times out idle keep-alive connections, but not a client that connects and sends nothing,
nor one that sends its request line and headers a byte at a time: such connections stay open for
as long as the client likes (measured: 20 s and counting), each holding a socket and a file
descriptor in a worker. Here a request's headers must be complete ``read_timeout_s`` after the
connection opened, or after the request's first byte; otherwise the client gets 408 (or, if it
never sent a byte, just a closed connection). The body's deadline is the app's (``read_body``).
A request the HTTP parser refuses (a bare CR in a header, obsolete line folding...) gets uvicorn's
400, but with a JSON ``{"message"}`` body like every other modelport error.

A ``POST /score`` whose ``Content-Length`` is within the body limit is handed to the app whole, in
one message, once it has all arrived. uvicorn would wake the app for every ~256 KB read and stop
reading the socket past 64 KB until the app took it (flow control meant for apps that stream):
for the tutorial's 61 MB body that was ~240 round trips through the event loop and two more copies
of the body. Here the body grows in one ``bytearray`` while it arrives (its pages are touched
then, while the client is still sending), and the app gets that very ``bytearray``: no copy of it
into a ``bytes`` (61 MB: 25 ms, mostly page faults on the new block; measured, docs/performance.md).
The app reads such a body entirely anyway, so holding it here costs no more memory; other requests
keep uvicorn's flow control and its ``bytes`` messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

log = logging.getLogger("modelport.server")


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol closing connections whose request headers are late. Use
    :func:`protocol_class` to get a subclass with the deadline and the body limit set."""

    read_timeout_s: float = 30.0
    max_body_bytes: int = 100 * 2**20

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._request_begun = False
        self._whole_body = False

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
        self._whole_body = self._body_fits()
        if self._whole_body:
            # The ASGI task starts on the loop's next turn: it will call this receive, not uvicorn's.
            self.cycle.receive = _whole_body_receive(self.cycle)  # type: ignore[method-assign,assignment]

    def _body_fits(self) -> bool:
        if self.scope.get("method") != "POST" or self.scope.get("path") != "/score":
            return False
        for name, value in self.headers:
            if name == b"content-length":
                return value.isdigit() and int(value) <= self.max_body_bytes
        return False

    def on_body(self, body: bytes) -> None:
        if not self._whole_body:
            super().on_body(body)
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return
        cycle.body += body  # the app is woken once, by on_message_complete

    def on_message_complete(self) -> None:
        self._whole_body = False
        super().on_message_complete()

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


def _whole_body_receive(cycle: RequestResponseCycle) -> Callable[[], Awaitable[dict[str, Any]]]:
    """uvicorn's ``RequestResponseCycle.receive`` for a body handed over whole: the same steps, but
    the message's body is the cycle's ``bytearray`` itself rather than a ``bytes`` copy of it."""

    async def receive() -> dict[str, Any]:
        if cycle.waiting_for_100_continue and not cycle.transport.is_closing():
            cycle.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        if not cycle.disconnected and not cycle.response_complete:
            cycle.flow.resume_reading()
            await cycle.message_event.wait()
            cycle.message_event.clear()
        if cycle.disconnected or cycle.response_complete:
            return {"type": "http.disconnect"}
        body, cycle.body = cycle.body, bytearray()
        return {"type": "http.request", "body": body, "more_body": cycle.more_body}

    return receive


def protocol_class(read_timeout_s: float, max_body_bytes: int) -> type[HeaderDeadlineProtocol]:
    """A protocol class for uvicorn's ``Config(http=...)`` with this header deadline and body limit."""
    settings = {"read_timeout_s": read_timeout_s, "max_body_bytes": max_body_bytes}
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), settings)
