"""Running the studio: pick the token, print the URL (as Jupyter does), serve with uvicorn."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import sys
import webbrowser
from collections.abc import Callable

from modelport.errors import InvalidInputError
from modelport.studio.app import create_app
from modelport.workspace import Workspace

__all__ = ["TOKEN_ENV", "is_loopback", "run"]

TOKEN_ENV = "MODELPORT_STUDIO_TOKEN"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_free(host: str, port: int) -> None:
    """A one-line error for a port in use, before uvicorn would log its own and exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise InvalidInputError(
                f"cannot listen on {host}:{port} ({exc.strerror}): pick another port with --port"
            ) from None


def run(
    ws: Workspace,
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = True,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the studio over ``ws`` until interrupted. The token is ``$MODELPORT_STUDIO_TOKEN``
    or a fresh random one; the URL to open, token included, is printed (and opened)."""
    import uvicorn

    token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(32)
    if len(token) < 16:
        raise InvalidInputError(f"{TOKEN_ENV} must be at least 16 characters")
    loopback = is_loopback(host)
    if not loopback:
        print(
            f"warning: the studio listens on {host}, reachable from other machines; anyone with the "
            "token can deploy, delete and call services (there is no TLS)",
            file=sys.stderr,
        )
    _check_free(host, port)
    app = create_app(ws, token, port=port, loopback_only=loopback)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/?token={token}"
    say(f"modelport studio for workspace '{ws.name}': {url}")
    say("press Ctrl-C to stop")
    if open_browser:
        webbrowser.open(url)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,  # open log streams (server-sent events) never end by themselves
    )
