"""The one way to call a service: request encoding, auth header, retries, error conversion.

Everything that calls a scoring service (the SDK's ``Webservice.run``, ``modelport service run``,
the engine's readiness probes) goes through here, and no ``requests`` exception leaves it:

- a non-200 answer raises the modelport error class the server raised (its error body names it in
  ``code``), made a :class:`~modelport.errors.ServiceCallError` too, with the status, body and
  headers (``except PayloadTooLarge`` and ``except ServiceCallError`` both catch a 413);
- nothing answering raises :class:`~modelport.errors.ServiceUnavailable` naming the service's state
  and why, as the engine observes it.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import requests

from modelport import errors
from modelport.errors import InvalidInputError, ModelportError, ServiceCallError, ServiceUnavailable

__all__ = ["ServiceClient", "error_for", "probe_ready"]

RETRIES = 6


def probe_ready(
    url: str,
    credential: str | None = None,
    timeout: float = 2.0,
    busy_is_ready: bool = False,
    verify: bool | str = True,
) -> bool:
    """Whether ``url`` (a readiness route) answers 200. With ``busy_is_ready``, a server that took
    the connection but did not answer within ``timeout`` counts as ready: the caller knows from
    elsewhere that it has ready workers, and on 2 busy cores a loaded server can take longer than
    that to answer a probe while it serves everyone else (it is busy, not down)."""
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    try:
        return requests.get(url, headers=headers, timeout=timeout, verify=verify).status_code == 200
    except requests.ReadTimeout:
        return busy_is_ready
    except requests.RequestException:
        return False


def _ssl_reason(exc: Exception) -> str:
    """OpenSSL's reason (``certificate verify failed: self-signed certificate``), not urllib3's
    nested repr."""
    text = str(exc)
    start = text.find("certificate verify failed")
    if start < 0:
        start = text.find("SSL:")
    return text[start:].split(")")[0].strip() if start >= 0 else text[:200]


_CALL_ERRORS: dict[type[ModelportError], type[ServiceCallError]] = {}


def _with_call_error(cls: type[ModelportError]) -> type[ServiceCallError]:
    """``cls`` that is also a ServiceCallError (status, body and headers as attributes)."""
    if issubclass(cls, ServiceCallError):
        return cls
    if cls not in _CALL_ERRORS:
        # Built like a ServiceCallError, whatever arguments ``cls`` itself takes.
        namespace = {"__module__": cls.__module__, "__init__": ServiceCallError.__init__}
        _CALL_ERRORS[cls] = type(cls.__name__, (cls, ServiceCallError), namespace)
    return _CALL_ERRORS[cls]


def error_for(status: int, body: str, headers: dict[str, str] | None = None) -> ServiceCallError:
    """The exception for a non-200 answer: the class the server names in its error body's
    ``code`` (any ModelportError), else a plain ServiceCallError."""
    code = None
    try:
        parsed = json.loads(body)
        code = parsed.get("code") if isinstance(parsed, dict) else None
    except ValueError:
        pass
    found = getattr(errors, code, None) if isinstance(code, str) and code in errors.__all__ else None
    cls = found if isinstance(found, type) and issubclass(found, ModelportError) else ServiceCallError
    return _with_call_error(cls)(status, body, headers)


def _is_ndarray(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray)


def _npy(array: Any) -> bytes:
    import numpy as np

    out = io.BytesIO()
    np.save(out, np.ascontiguousarray(array), allow_pickle=False)
    return out.getvalue()


class ServiceClient:
    """Calls one service. ``auth()`` gives the Authorization header to send (asked per call:
    keys can be regenerated); ``describe()`` says the service's state and why, for errors when
    nothing answers.

    Example::

        client = ServiceClient("svc", "http://127.0.0.1:5001/score", "http://127.0.0.1:5001/swagger.json")
        client.score({"data": [[1, 2]]})
    """

    def __init__(
        self,
        name: str,
        scoring_uri: str | None,
        swagger_uri: str | None,
        auth: Callable[[], dict[str, str]] = dict,
        describe: Callable[[], str] = lambda: "not answering",
        cache_key: Any = None,
        verify: bool | str = True,
    ) -> None:
        self.name = name
        self.scoring_uri = scoring_uri
        self.swagger_uri = swagger_uri
        self._auth = auth
        self._describe = describe
        self._cache_key = cache_key
        self._session = requests.Session()
        # An https service's certificate is checked against this (a CA bundle file; True: the
        # usual roots), never skipped.
        # Passed with each request: requests lets REQUESTS_CA_BUNDLE override a session's verify.
        self._verify = verify
        self._array_input: dict[Any, dict[str, Any] | None] = {}

    def close(self) -> None:
        self._session.close()

    def _unavailable(self, cause: str | None = None) -> ServiceUnavailable:
        detail = f" (nothing answered: {cause})" if cause else ""
        return ServiceUnavailable(f"service '{self.name}' {self._describe()}{detail}")

    def encode(self, input_data: Any) -> tuple[bytes, str]:
        """The body and Content-Type for ``input_data`` (bytes, str, a numpy array, or JSON-able).

        A numpy array goes as ``application/x-npy`` when the service declares an array input (its
        ``/swagger.json`` says so; asked once per deployment), else as JSON ``{"data": ...}``.
        """
        if isinstance(input_data, bytes):
            return input_data, "application/json"
        if isinstance(input_data, str):
            return input_data.encode("utf-8"), "application/json"
        if _is_ndarray(input_data):
            if self.array_input() is not None:
                return _npy(input_data), "application/x-npy"
            return json.dumps({"data": input_data.tolist()}).encode("utf-8"), "application/json"
        try:
            return json.dumps(input_data).encode("utf-8"), "application/json"
        except TypeError as exc:
            raise InvalidInputError(f"input_data is not JSON-serializable: {exc}") from exc

    def score(self, input_data: Any) -> Any:
        """POST ``input_data`` to the scoring URI; the answer's JSON (or text)."""
        if not self.scoring_uri:
            raise self._unavailable()
        body, content_type = self.encode(input_data)
        headers = {"Content-Type": content_type, **self._auth()}
        resp = self._post(body, headers)
        if resp.status_code != 200:
            raise error_for(resp.status_code, resp.text, dict(resp.headers))
        if "json" in resp.headers.get("Content-Type", ""):
            return resp.json()
        return resp.text

    def _post(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        assert self.scoring_uri is not None
        for attempt in range(RETRIES):
            try:
                resp = self._session.post(
                    self.scoring_uri, data=body, headers=headers, timeout=(5, 3600), verify=self._verify
                )
            except requests.RequestException as exc:
                # The connection dropped before an answer (e.g. a keep-alive socket closed by a
                # replaced server during an update): retry on a fresh connection, then give up.
                if isinstance(exc, requests.exceptions.SSLError):
                    # A certificate the client does not trust (or that names another host): say
                    # so, retrying changes nothing.
                    raise self._unavailable(f"SSLError: {_ssl_reason(exc)}") from None
                if attempt == RETRIES - 1 or not isinstance(exc, requests.ConnectionError):
                    raise self._unavailable(type(exc).__name__) from None
                self._session.close()
                time.sleep(0.05 * 2**attempt)  # 0.05 .. 0.8 s, about 1.5 s in all
                continue
            # 503 with Retry-After: the service is overloaded or replacing a worker; it asks us to
            # come back shortly, so do (bounded), rather than fail the caller at once.
            retry_after = resp.headers.get("Retry-After")
            if resp.status_code == 503 and retry_after and attempt < RETRIES - 1:
                try:
                    wait = min(float(retry_after), 2.0)
                except ValueError:
                    wait = 1.0
                time.sleep(max(wait, 0.05))
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def swagger(self) -> dict[str, Any]:
        """The service's OpenAPI document."""
        if not self.swagger_uri:
            raise self._unavailable()
        try:
            resp = self._session.get(
                self.swagger_uri, headers=self._auth(), timeout=(5, 30), verify=self._verify
            )
        except requests.RequestException as exc:
            raise self._unavailable(type(exc).__name__) from None
        if resp.status_code != 200:
            raise error_for(resp.status_code, resp.text, dict(resp.headers))
        doc: dict[str, Any] = resp.json()
        return doc

    def metrics(self) -> str:
        """The service's Prometheus metrics (``GET /metrics`` beside the scoring route), as text."""
        if not self.scoring_uri:
            raise self._unavailable()
        url = self.scoring_uri.rsplit("/", 1)[0] + "/metrics"
        try:
            resp = self._session.get(url, headers=self._auth(), timeout=(5, 30), verify=self._verify)
        except requests.RequestException as exc:
            raise self._unavailable(type(exc).__name__) from None
        if resp.status_code != 200:
            raise error_for(resp.status_code, resp.text, dict(resp.headers))
        return resp.text

    def array_input(self) -> dict[str, Any] | None:
        """The service's declared array input (from its swagger), cached per deployment."""
        if self._cache_key not in self._array_input:
            try:
                found = self.swagger().get("x-modelport-array-input")
            except ServiceCallError as exc:
                if exc.status_code >= 500:  # not ready yet: ask again next time
                    return None
                found = None
            except (ModelportError, ValueError, AttributeError):
                return None  # cannot tell: JSON works for every service
            self._array_input[self._cache_key] = found if isinstance(found, dict) else None
        return self._array_input[self._cache_key]
