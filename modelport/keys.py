"""A service's keys: one JSON file per service, mode 0600, written atomically."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from modelport.errors import InvalidInputError


def new_key() -> str:
    return secrets.token_urlsafe(32)


def write_keys(path: Path, primary: str, secondary: str, token_secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"primary_key": primary, "secondary_key": secondary, "token_secret": token_secret}, f)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_keys(path: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads(path.read_text())
    return data


def ensure_keys(path: Path, primary: str | None, secondary: str | None) -> dict[str, str]:
    """Keep existing keys (an overwrite keeps them) unless new ones are given; create them if absent."""
    old = read_keys(path) if path.is_file() else {}
    keys = {
        "primary_key": primary or old.get("primary_key") or new_key(),
        "secondary_key": secondary or old.get("secondary_key") or new_key(),
        "token_secret": old.get("token_secret") or new_key(),
    }
    write_keys(path, keys["primary_key"], keys["secondary_key"], keys["token_secret"])
    return keys


def regenerate(path: Path, key: str, set_key: str | None) -> dict[str, str]:
    which = {"primary": "primary_key", "secondary": "secondary_key"}.get(str(key).lower())
    if which is None:
        raise InvalidInputError(f"key must be 'Primary' or 'Secondary', got {key!r}")
    if set_key is not None and (len(set_key) < 16 or not set_key.isprintable() or " " in set_key):
        raise InvalidInputError("set_key must be a printable string of at least 16 characters without spaces")
    keys = read_keys(path)
    keys[which] = set_key or new_key()
    write_keys(path, keys["primary_key"], keys["secondary_key"], keys["token_secret"])
    return keys
