"""Key and token authentication for the scoring server.

Keys live in a JSON file (:class:`~modelport.servicefiles.ServiceKeys`, mode 0600) that the
server re-reads when its mtime changes, so a regenerated key takes effect
without a restart. Tokens are ``mpt1.<payload>.<signature>``: the payload holds the expiry, the
signature is HMAC-SHA256 with ``token_secret``. Keys are compared in constant time and never logged.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import os
import threading
import time
from pathlib import Path

from modelport.errors import AuthError, InvalidInputError
from modelport.keys import TOKEN_PREFIX, make_token, verify_token
from modelport.servicefiles import ServiceKeys

__all__ = ["Authenticator", "KeyStore", "Keys", "make_token", "verify_token"]

log = logging.getLogger("modelport.server.auth")
RELOAD_INTERVAL_S = 0.5


Keys = ServiceKeys
"""The secrets in force (an empty one is not set)."""


class KeyStore:
    """The current keys: a fixed primary key, or a keys file re-read when its mtime changes
    (checked at most every 0.5 s). A missing or broken file means no key is accepted."""

    def __init__(self, keys_file: Path | None = None, primary_key: str | None = None) -> None:
        self._file = keys_file
        self._static = Keys(primary_key=primary_key or "")
        self._keys = self._static
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        if keys_file is not None:
            self._reload(force=True)

    def current(self) -> Keys:
        """The keys in force now."""
        if self._file is not None and time.monotonic() - self._checked >= RELOAD_INTERVAL_S:
            self._reload()
        return self._keys

    def _reload(self, force: bool = False) -> None:
        assert self._file is not None
        with self._lock:
            self._checked = time.monotonic()
            try:
                st = os.stat(self._file)
            except OSError:
                if self._stamp is not None or force:
                    log.warning("keys file %s is missing: every authenticated request is refused", self._file)
                self._stamp, self._keys = None, Keys()
                return
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp and not force:
                return
            if st.st_mode & 0o077:
                log.warning("keys file %s is readable by other users: chmod 600 it", self._file)
            try:
                keys = ServiceKeys.from_json(Path(self._file).read_bytes())
                if not keys.primary_key:
                    keys = dataclasses.replace(keys, primary_key=self._static.primary_key)
            except (OSError, InvalidInputError) as exc:
                log.warning(
                    "keys file %s is unreadable (%s): refusing authenticated requests", self._file, exc
                )
                keys = Keys()
            if self._stamp is not None:
                log.info("keys file %s changed: keys reloaded", self._file)
            self._stamp, self._keys = stamp, keys


class Authenticator:
    """Checks ``Authorization: Bearer <key or token>`` headers against a KeyStore."""

    def __init__(self, store: KeyStore, *, keys_enabled: bool, token_enabled: bool) -> None:
        self.store = store
        self.keys_enabled = keys_enabled
        self.token_enabled = token_enabled

    @property
    def enabled(self) -> bool:
        """Whether protected routes need credentials at all."""
        return self.keys_enabled or self.token_enabled

    def check(self, authorization: str | None) -> None:
        """Return if the header carries a valid key or token; raise AuthError otherwise."""
        if not authorization:
            raise AuthError("missing Authorization header: send 'Authorization: Bearer <key>'")
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthError("the Authorization header must be 'Bearer <key or token>'")
        keys = self.store.current()
        if self.keys_enabled:
            given = credential.encode("utf-8")
            ok = False
            for key in (keys.primary_key, keys.secondary_key):
                # Compare against both keys every time, so timing says nothing about which matched.
                ok |= bool(key) and hmac.compare_digest(given, key.encode("utf-8"))
            if ok:
                return
        if self.token_enabled and credential.startswith(TOKEN_PREFIX + "."):
            verify_token(keys.token_secret, credential)
            return
        raise AuthError("invalid key or token")
