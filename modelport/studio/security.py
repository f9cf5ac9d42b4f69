"""The studio's guard: a token on every route, a CSRF check on every state-changing request.

As Jupyter does, ``modelport studio`` prints a URL carrying a random token. Opening it once sets
an HttpOnly, SameSite=Strict cookie holding the token and redirects to the same page without it,
so the token leaves the address bar. Scripts may send ``Authorization: Bearer <token>`` instead.
Without the token every route, pages and static files included, answers 401; a page asked for
by a browser (``GET``, not under ``/api/``) gets a sign-in page with that 401: it says where the
URL is printed and takes the token in a form (``POST /login``), which sets the same cookie. The
token is compared in constant time and never written back into a page or a log.

CSRF: a request authenticated by the cookie (which a browser attaches on its own) that changes
something (POST, PUT, PATCH, DELETE) must also carry ``X-Studio-CSRF`` with the session's CSRF
value, which only a page of the studio's own origin can read (``GET /api/session``); a request
whose ``Origin`` is not the studio's own is refused whatever it carries. A request authenticated
by the ``Authorization`` header cannot be forged by another site, so it needs no CSRF value.

DNS rebinding: bound to loopback, the studio answers only requests addressed to a loopback
``Host`` (``127.0.0.1``, ``localhost``, ``[::1]``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSRF_HEADER", "SECURITY_HEADERS", "StudioGuard", "cookie_name"]

CSRF_HEADER = "x-studio-csrf"
LOGIN_PATH = "/login"
MAX_LOGIN_BODY = 4096
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


_LOGIN_STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:15px;"
    "color:#1f2328;margin:0;background:#f6f8fa}"
    "main{max-width:560px;margin:64px auto;background:#fff;border:1px solid #d0d7de;"
    "border-radius:8px;padding:24px 28px}"
    "h1{font-size:20px;margin:0 0 12px}code{background:#eaeef2;padding:1px 5px;border-radius:4px}"
    "label{display:block;margin:18px 0 6px;font-weight:600}"
    "input{width:100%;box-sizing:border-box;padding:7px 9px;border:1px solid #d0d7de;border-radius:6px;"
    "font:inherit}button{margin-top:12px;padding:6px 16px;border-radius:6px;border:1px solid #1a7f37;"
    "background:#1f883d;color:#fff;font:inherit;cursor:pointer}"
    ".bad{color:#cf222e;margin:12px 0 0}.muted{color:#656d76}"
)
_LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>modelport studio: sign in</title>
<style>{style}</style>
</head>
<body>
<main>
<h1>modelport studio</h1>
<p>This studio needs its token. Open the address that <code>modelport studio</code> printed when it
started (<code>http://127.0.0.1:{port}/?token=...</code>), or paste the token below.</p>
<p class="muted">It is the value after <code>?token=</code>; if the studio was started with
<code>MODELPORT_STUDIO_TOKEN</code> set, it is that value.</p>
<form method="post" action="{login}">
<label for="token">Studio token</label>
<input id="token" name="token" type="password" autocomplete="off" required autofocus>
<button type="submit">Sign in</button>
</form>
{problem}
</main>
</body>
</html>
"""
_LOGIN_CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(_LOGIN_STYLE.encode()).digest()).decode()
    + "'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
).encode()
"""The sign-in page's policy: no script at all, only its own inline style (pinned by its hash)."""
_SIGN_IN_OWN = (b"content-security-policy", b"referrer-policy")


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
        if path == LOGIN_PATH and scope["method"] == "POST":
            await self._login(scope, receive, send, headers)
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
            if scope["method"] in ("GET", "HEAD") and not path.startswith("/api/"):
                await self._sign_in_page(send, None)
                return
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

    async def _sign_in_page(self, send: Send, problem: str | None) -> None:
        """401 with a page saying how to get in (a browser's request without the token)."""
        shown = f'<p class="bad" role="alert">{html.escape(problem)}</p>' if problem else ""
        page = _LOGIN_PAGE.format(style=_LOGIN_STYLE, port=self.port, login=LOGIN_PATH, problem=shown)
        body = page.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"content-security-policy", _LOGIN_CSP),
                    # Its form's POST then carries the studio's Origin (no-referrer sends "null").
                    (b"referrer-policy", b"same-origin"),
                    *(h for h in SECURITY_HEADERS if h[0] not in _SIGN_IN_OWN),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _login(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        """``POST /login`` from the sign-in page: the right token sets the cookie, as the URL does."""
        origin = headers.get("origin")
        # "null": what a browser sends for a form whose page asked for no referrer. Whoever posts
        # here must know the token already, so a forged sign-in gains nothing; other sites' are
        # refused anyway, as everywhere.
        if origin not in (None, "null", f"http://{headers.get('host', '')}"):
            await _refuse(send, 403, f"cross-origin request from {origin!r} refused", LOGIN_PATH)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the browser went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_LOGIN_BODY:
                await _refuse(send, 413, "the sign-in form is larger than a token", LOGIN_PATH)
                return
        given = parse_qs(body.decode("latin-1")).get("token", [""])[0].strip()
        if not _same(given, self.token):
            await self._sign_in_page(send, "That is not this studio's token.")
            return
        cookie = f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        await _send(send, 303, b"", [(b"location", b"/"), (b"set-cookie", cookie.encode())])


def _cookie(header: str, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is no credential
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


async def _refuse(send: Send, status: int, message: str, path: str) -> None:
    code = {401: "AuthError", 413: "PayloadTooLarge"}.get(status, "Forbidden")
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
