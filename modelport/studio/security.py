"""The studio's guard: a token on every route, a CSRF check on every state-changing request.

As Jupyter does, ``modelport studio`` prints a URL carrying a random token. Opening it once sets
an HttpOnly, SameSite=Strict cookie holding the token and redirects to the same page without it,
so the token leaves the address bar. Scripts may send ``Authorization: Bearer <token>`` instead.
Without the token every route, pages and static files included, answers 401.

CSRF: a request authenticated by the cookie (which a browser attaches on its own) that changes
something (POST, PUT, PATCH, DELETE) must also carry ``X-Studio-CSRF`` with the session's CSRF
value, which only a page of the studio's own origin can read (``GET /api/session``); a request
whose ``Origin`` is not the studio's own is refused whatever it carries. A request authenticated
by the ``Authorization`` header cannot be forged by another site, so it needs no CSRF value.

DNS rebinding: bound to loopback, the studio answers only requests addressed to a loopback
``Host`` (``127.0.0.1``, ``localhost``, ``[::1]``).
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSRF_HEADER", "SECURITY_HEADERS", "StudioGuard", "cookie_name"]

CSRF_HEADER = "x-studio-csrf"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})

# No inline script or style at all: even if some text escaped escaping, it could not run.
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        b"form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def cookie_name(port: int) -> str:
    """Cookies are shared by every port of a host, so each studio's cookie names its port."""
    return f"modelport-studio-{port}"


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class StudioGuard:
    """ASGI middleware in front of the whole studio (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, token: str, csrf: str, port: int, loopback_only: bool) -> None:
        self.app = app
        self.token = token
        self.csrf = csrf
        self.port = port
        self.cookie = cookie_name(port)
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # the studio has no websocket route: refuse before any check
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        host = headers.get("host", "")
        if self.loopback_only and host.rsplit(":", 1)[0] not in LOOPBACK_HOSTS:
            await _refuse(send, 403, "the studio answers only requests addressed to this machine", path)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if _same(query.get("token"), self.token) and scope["method"] == "GET":
            # Trade the token in the address for a cookie, and show the address without it.
            rest = urlencode([(k, v) for k, v in query.items() if k != "token"])
            location = path + (f"?{rest}" if rest else "")
            cookie = f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/"
            await _send(send, 303, b"", [(b"location", location.encode()), (b"set-cookie", cookie.encode())])
            return
        by_header = False
        auth = headers.get("authorization", "")
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() in ("bearer", "token") and _same(credential.strip(), self.token):
            by_header = True
        elif not _same(_cookie(headers.get("cookie", ""), self.cookie), self.token):
            await _refuse(
                send, 401, "missing or wrong studio token: open the URL modelport studio printed", path
            )
            return
        if scope["method"] in UNSAFE:
            origin = headers.get("origin")
            if origin is not None and origin != f"http://{host}":
                await _refuse(send, 403, f"cross-origin request from {origin!r} refused", path)
                return
            if not by_header and not _same(headers.get(CSRF_HEADER), self.csrf):
                await _refuse(send, 403, "missing or wrong X-Studio-CSRF header", path)
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cookie(header: str, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is no credential
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


async def _refuse(send: Send, status: int, message: str, path: str) -> None:
    code = "AuthError" if status == 401 else "Forbidden"
    if path.startswith("/api/"):
        body = json.dumps({"message": message, "code": code}).encode()
        kind = b"application/json"
    else:
        body = f"{status}: {message}\n".encode()
        kind = b"text/plain; charset=utf-8"
    await _send(send, status, body, [(b"content-type", kind)])


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": body})
