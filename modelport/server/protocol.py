"""uvicorn's httptools protocol with a deadline for each request's headers, answering JSON.

uvicorn times out idle keep-alive connections, but not a client that connects and sends nothing,
nor one that sends its request line and headers a byte at a time: such connections stay open for
as long as the client likes (measured: 20 s and counting), each holding a socket and a file
descriptor in a worker. Here a request's headers must be complete ``read_timeout_s`` after the
connection opened, or after the request's first byte; otherwise the client gets 408 (or, if it
never sent a byte, just a closed connection). The body's deadline is the app's (``read_body``).
A request the HTTP parser refuses (a bare CR in a header, obsolete line folding...) gets uvicorn's
400, but with a JSON ``{"message"}`` body like every other modelport error.

A ``POST`` to a route that reads its body whole (``Route.whole_body``: v1's ``/score``, V2's
``.../infer``), with a ``Content-Length`` within the body limit, is handed to the app whole, in
one message, once it has all arrived. uvicorn would wake the app for every ~256 KB read and stop
reading the socket past 64 KB until the app took it (flow control meant for apps that stream):
for the tutorial's 61 MB body that was ~240 round trips through the event loop and two more copies
of the body. Here the body grows in one ``bytearray`` while it arrives (its pages are touched
then, while the client is still sending), and the app gets that very ``bytearray``: no copy of it
into a ``bytes`` (61 MB: 25 ms, mostly page faults on the new block; measured, docs/performance.md).
The app reads such a body entirely anyway, so holding it here costs no more memory; other requests
keep uvicorn's flow control and its ``bytes`` messages.

A request the app answers before its body has arrived (413 from ``Content-Length``, or while
counting a chunked body) is closed the way nginx does it, a *lingering close*: after the answer
the server shuts its side down for writing and goes on reading, and discarding (never buffering)
what the client still sends, for at most ``LINGER_S`` (``LINGER_IDLE_S`` without data) and
``LINGER_BYTES``, then closes. Closing at once, with unread data, makes the kernel reset the
connection, and a client still sending (Python's ``urllib``/``http.client``) gets
``BrokenPipe``/``ConnectionReset`` instead of the 413.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

log = logging.getLogger("modelport.server")

LINGER_S = 30.0
"""A lingering close reads and discards what the client still sends for at most this long..."""
LINGER_IDLE_S = 5.0
"""...or this long without any data (nginx's lingering_time and lingering_timeout)..."""
LINGER_BYTES = 1 << 30
"""...or this many bytes, whichever comes first."""


class _LingeringTransport:
    """The transport as a request's cycle sees it when its answer may come before its body: its
    ``close()`` lingers (see the module docstring) while the client is still sending."""

    def __init__(self, protocol: HeaderDeadlineProtocol, transport: asyncio.Transport) -> None:
        self._protocol = protocol
        self._transport = transport

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        self._protocol.close_or_linger()


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol closing connections whose request headers are late. Use
    :func:`protocol_class` to get a subclass with the deadline and the body limit set."""

    read_timeout_s: float = 30.0
    max_body_bytes: int = 100 * 2**20

    @staticmethod
    def whole_body(path: str) -> bool:
        """Whether the route at ``path`` reads its body whole (set by :func:`protocol_class`)."""
        return False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._headers_due: float | None = None  # loop time by which the headers must be complete
        self._request_begun = False
        self._whole_body = False
        self._lingering = False
        self._linger_bytes = 0
        self._linger_last = 0.0
        self._linger_end = 0.0
        self._linger_timer: asyncio.TimerHandle | None = None

    # The deadline is a time to compare with, and one timer per connection checks it when due: a
    # timer made when a request begins and cancelled when its headers are complete was two timer
    # handles per request, and uvloop closes a cancelled one on the loop's next turn, which then
    # needs the GIL while the run thread holds it (one more hand-over per request, issue 19).
    def _expect_headers(self) -> None:
        """The headers must be complete ``read_timeout_s`` from now (or from an earlier start)."""
        if self._headers_due is None:
            self._headers_due = self.loop.time() + self.read_timeout_s
        if self._header_timer is None:
            self._header_timer = self.loop.call_at(self._headers_due, self._check_headers)

    def _check_headers(self) -> None:
        self._header_timer = None
        due = self._headers_due
        if due is None:  # complete since: the next request's first byte sets a new deadline
            return
        if self.loop.time() < due:  # a later request's deadline
            self._header_timer = self.loop.call_at(due, self._check_headers)
            return
        self._headers_late()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect_headers()

    def shutdown(self) -> None:
        idle = self.cycle is None or self.cycle.response_complete
        super().shutdown()
        if idle and self.transport.get_extra_info("ssl_object") is not None:
            # TLS: close() waits for the client's close_notify (asyncio's ssl_shutdown_timeout,
            # 30 s), which an idle keep-alive client never sends, and the worker's shutdown waits
            # on the connection: a TLS service took 10 s to stop, then was killed. Nothing is in
            # flight on an idle connection: drop it.
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_due = None
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True
        self._expect_headers()

    def on_headers_complete(self) -> None:
        self._headers_due = None
        self._request_begun = False
        super().on_headers_complete()
        fits = self._body_fits()
        self._whole_body = fits is True
        if self._whole_body:
            # The ASGI task starts on the loop's next turn: it will call this receive, not uvicorn's.
            self.cycle.receive = WholeBodyReceive(self.cycle)  # type: ignore[method-assign,assignment]
        elif fits is None:  # a body the app may refuse before it has arrived: close by lingering
            self.cycle.transport = _LingeringTransport(self, self.transport)  # type: ignore[assignment]

    def _body_fits(self) -> bool | None:
        """True: a POST body within the limit to a route reading it whole (handed over whole);
        None: a body over the limit, or chunked (the app may answer 413 before it has arrived);
        False: anything else."""
        for name, value in self.headers:
            if name == b"content-length":
                if not value.isdigit():
                    return False
                if int(value) > self.max_body_bytes:
                    return None
                return self.scope.get("method") == "POST" and self.whole_body(self.scope.get("path", ""))
            if name == b"transfer-encoding":
                return None
        return False

    # -- lingering close ----------------------------------------------------------------------------
    def close_or_linger(self) -> None:
        """Close now if the request has all arrived (or the client is gone), else linger."""
        transport = self.transport
        cycle = self.cycle
        if transport.is_closing() or self._lingering or cycle is None or not cycle.more_body:
            transport.close()
            return
        self._lingering = True
        self._linger_bytes = 0
        self._linger_last = self.loop.time()
        self._linger_end = self._linger_last + LINGER_S
        if transport.can_write_eof():
            transport.write_eof()  # the answer is whole: the client reads it, then our EOF
        self.flow.resume_reading()
        self._linger_timer = self.loop.call_later(LINGER_IDLE_S, self._linger_check)

    def _linger_check(self) -> None:
        self._linger_timer = None
        now = self.loop.time()
        wake = min(self._linger_end, self._linger_last + LINGER_IDLE_S)
        if now >= wake:
            self.transport.close()
        else:
            self._linger_timer = self.loop.call_later(wake - now, self._linger_check)

    def data_received(self, data: bytes) -> None:
        if not self._lingering:
            super().data_received(data)
            return
        self._linger_bytes += len(data)  # discarded, never kept
        self._linger_last = self.loop.time()
        if self._linger_bytes > LINGER_BYTES:
            self.transport.close()

    def eof_received(self) -> None:
        if self._lingering:
            self.transport.close()
            return
        super().eof_received()

    def on_response_complete(self) -> None:
        if self._lingering:  # no keep-alive, no next request: only the discarding goes on
            self.server_state.total_requests += 1
            return
        super().on_response_complete()

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
        self._headers_due = None
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


class WholeBodyReceive:
    """uvicorn's ``RequestResponseCycle.receive`` for a body handed over whole: the same steps, but
    the message's body is the cycle's ``bytearray`` itself rather than a ``bytes`` copy of it."""

    __slots__ = ("cycle",)

    def __init__(self, cycle: RequestResponseCycle) -> None:
        self.cycle = cycle

    @property
    def complete(self) -> bool:
        """Whether the whole body is here, so that a call returns it at once: the app then reads
        it without setting a deadline (a timer made and cancelled per request; issue 19)."""
        cycle = self.cycle
        return not cycle.more_body and cycle.message_event.is_set() and not cycle.waiting_for_100_continue

    async def __call__(self) -> dict[str, Any]:
        cycle = self.cycle
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


def protocol_class(
    read_timeout_s: float, max_body_bytes: int, whole_body: Callable[[str], bool] | None = None
) -> type[HeaderDeadlineProtocol]:
    """A protocol class for uvicorn's ``Config(http=...)`` with this header deadline and body
    limit; ``whole_body(path)`` says which routes read their bodies whole (the app's router)."""
    settings: dict[str, Any] = {"read_timeout_s": read_timeout_s, "max_body_bytes": max_body_bytes}
    if whole_body is not None:
        settings["whole_body"] = staticmethod(whole_body)
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), settings)
