"""The scoring server: an ASGI app (routes, auth, limits, timeouts, metrics, error mapping) and
the gunicorn supervisor of its worker processes. Launch with ``python -m modelport.server``."""

from __future__ import annotations

from modelport.server.auth import make_token, verify_token
from modelport.server.config import ServerConfig

__all__ = ["ServerConfig", "make_token", "verify_token"]
