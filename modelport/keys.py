"""A service's keys and tokens, in one place.

Keys: one JSON file per service (:class:`~modelport.servicefiles.ServiceKeys`), mode 0600,
written atomically. Tokens: ``mpt1.<payload>.<signature>``, HMAC-SHA256 of the payload (its expiry)
with the service's token secret; the server verifies them with :func:`verify_token`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

from modelport.errors import AuthError, InvalidInputError
from modelport.servicefiles import ServiceKeys

TOKEN_PREFIX = "mpt1"


def new_key() -> str:
    return secrets.token_urlsafe(32)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by this user only (0600, its folder 0700
    when made here): key files and cluster tokens."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_keys(path: Path, keys: ServiceKeys) -> None:
    write_private(path, keys.to_json())


def read_keys(path: Path) -> ServiceKeys:
    """The keys file at ``path`` (:class:`~modelport.servicefiles.ServiceKeys`)."""
    return ServiceKeys.from_json(path.read_bytes())


def new_keys() -> ServiceKeys:
    """Fresh keys and token secret, from ``secrets``."""
    return ServiceKeys(new_key(), new_key(), new_key())


def ensure_keys(path: Path, primary: str | None, secondary: str | None) -> ServiceKeys:
    """Keep existing keys (an overwrite keeps them) unless new ones are given; create them if absent."""
    old = read_keys(path) if path.is_file() else ServiceKeys()
    keys = ServiceKeys(
        primary_key=primary or old.primary_key or new_key(),
        secondary_key=secondary or old.secondary_key or new_key(),
        token_secret=old.token_secret or new_key(),
    )
    write_keys(path, keys)
    return keys


def regenerate(path: Path, key: str, set_key: str | None) -> ServiceKeys:
    which = {"primary": "primary_key", "secondary": "secondary_key"}.get(str(key).lower())
    if which is None:
        raise InvalidInputError(f"key must be 'Primary' or 'Secondary', got {key!r}")
    if set_key is not None and (len(set_key) < 16 or not set_key.isprintable() or " " in set_key):
        raise InvalidInputError("set_key must be a printable string of at least 16 characters without spaces")
    keys = dataclasses.replace(read_keys(path), **{which: set_key or new_key()})
    write_keys(path, keys)
    return keys


def probe_credential(path: Path) -> str | None:
    """A credential the service's own file accepts (the primary key, else a short token), for
    health probes; None when the file holds neither."""
    keys = read_keys(path)
    if keys.primary_key:
        return keys.primary_key
    if keys.token_secret:
        return make_token(keys.token_secret, 300)[0]
    return None


# -- tokens ---------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode("utf-8"), payload.encode("ascii"), hashlib.sha256).digest())


def make_token(secret: str, ttl_seconds: int) -> tuple[str, float]:
    """A token valid for ``ttl_seconds``, and when to refresh it (epoch seconds, half-way to expiry).

    >>> token, refresh_after = make_token("s3cret", 3600)
    >>> verify_token("s3cret", token)
    """
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    now = time.time()
    payload = _b64(json.dumps({"exp": int(now + ttl_seconds), "iat": int(now)}).encode())
    return f"{TOKEN_PREFIX}.{payload}.{_sign(secret, payload)}", now + ttl_seconds / 2


def verify_token(secret: str, token: str, now: float | None = None) -> None:
    """Return if ``token`` was signed with ``secret`` and has not expired; raise AuthError otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise AuthError("invalid token")
    _, payload, signature = parts
    if not secret or not hmac.compare_digest(_sign(secret, payload), signature):
        raise AuthError("invalid token")
    try:
        expiry = float(json.loads(_unb64(payload))["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AuthError("invalid token") from exc
    if (time.time() if now is None else now) >= expiry:
        raise AuthError("token expired: get a new one")
