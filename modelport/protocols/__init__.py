"""Wire protocols: each one is a module declaring its routes, its error body and its encoding.

The server (modelport.server.app) mounts the routes of every protocol in ``PROTOCOLS`` there and
runs each request through one pipeline (request id, auth, limits, metrics, headers, error
statuses); a route's handler does only its protocol's part: decode the request into run()'s
arguments, call the scoring service, encode the answer. Adding a protocol (Open Inference V2)
is one new module with a :class:`Protocol` subclass, plus one line registering it in the server.

A protocol reaches the server only through :class:`Host` and the runtime only through
:class:`~modelport.runtime.script.ScoringScript`; it never imports the server or the engine.

>>> Route("/v2/models/{name}/infer", ("POST",), True, None).match("/v2/models/mnist/infer")  # doctest: +SKIP
{'name': 'mnist'}
"""

from __future__ import annotations

import abc
import functools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from typing import Protocol as TypingProtocol

import numpy as np
import orjson

from modelport.errors import ModelportError, ScriptError
from modelport.runtime import fastjson
from modelport.runtime.request import Body, ScoringRequest
from modelport.runtime.script import Scored, ScoringScript

__all__ = [
    "Call",
    "Codec",
    "Host",
    "Protocol",
    "Reply",
    "Route",
    "Router",
    "json_bytes",
    "score_batch",
    "score_request",
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"


@dataclass(slots=True)
class Reply:
    """A response before the server adds the headers every response carries."""

    status: int
    body: bytes = b""
    content_type: bytes | None = JSON
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    run_ms: float | None = None
    """For a scoring route: how long run() took, and what it printed (for the request's trace)."""
    printed: str = ""


@dataclass(slots=True)
class Call:
    """What a route handler gets: the ASGI request, its id, and a patterned route's parameters."""

    scope: Scope
    receive: Receive
    request_id: str
    content_length: int | None
    authorization: str | None
    params: dict[str, str] | None = None
    """``{"name": "mnist"}`` for ``/v2/models/{name}/infer``; None on an exact path."""


Handler = Callable[[Call], Awaitable[Reply]]
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Route:
    """One path of a protocol: ``path`` is exact (``/score``) or a pattern whose ``{name}`` parts
    match one path segment each (``/v2/models/{name}/infer``). ``protected``: needs credentials
    when auth is on. A GET route answers HEAD too. What the server does around the handler
    follows from the route, never from its path: ``scoring`` (run() answers it: traced with
    v1's ``enable_app_insights``), ``whole_body`` (its handler reads the body whole, so the server
    may take it in whole before the handler runs, rather than stream it)."""

    path: str
    methods: tuple[str, ...]
    protected: bool
    handler: Handler
    scoring: bool = False
    whole_body: bool = False
    regex: re.Pattern[str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if "{" in self.path:
            parts = _PARAM.split(self.path)  # literal, name, literal, name, ..., literal
            pattern = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
            object.__setattr__(self, "regex", re.compile(f"^{pattern}$"))

    def match(self, path: str) -> dict[str, str] | None:
        """The pattern's parameters if ``path`` matches it (``{}`` for an exact route that matches)."""
        if self.regex is None:
            return {} if path == self.path else None
        found = self.regex.match(path)
        return found.groupdict() if found else None


class Router:
    """Routes by path: exact paths in a dict (the hot path is one lookup), patterns tried in order
    only when no exact path matches."""

    def __init__(self) -> None:
        self.exact: dict[str, tuple[Route, Protocol]] = {}
        self.patterns: list[tuple[Route, Protocol]] = []

    def add(self, route: Route, protocol: Protocol) -> None:
        """Mount ``route`` of ``protocol``; a path mounted twice is a programming error."""
        if route.path in self.exact or any(r.path == route.path for r, _ in self.patterns):
            raise ValueError(f"route {route.path} is declared twice")
        if route.regex is None:
            self.exact[route.path] = (route, protocol)
        else:
            self.patterns.append((route, protocol))

    def match_pattern(self, path: str) -> tuple[tuple[Route, Protocol] | None, dict[str, str] | None]:
        """The patterned route matching ``path`` and its parameters, or (None, None)."""
        for entry in self.patterns:
            params = entry[0].match(path)
            if params is not None:
                return entry, params
        return None, None

    def whole_body(self, path: str) -> bool:
        """Whether the route at ``path`` reads its body whole (for the connection, before routing)."""
        entry = self.exact.get(path)
        if entry is None and self.patterns:
            entry = self._matched(path)
        return entry is not None and entry[0].whole_body

    @functools.lru_cache(maxsize=256)  # noqa: B019 (one router per worker, for its life)
    def _matched(self, path: str) -> tuple[Route, Protocol] | None:
        return self.match_pattern(path)[0]

    def paths(self) -> list[str]:
        """Every mounted path, exact ones first."""
        return [*self.exact, *(r.path for r, _ in self.patterns)]


class Host(TypingProtocol):
    """What the server gives a protocol's handlers."""

    debug: bool
    service_name: str
    auth_enabled: bool
    models: list[tuple[str, str]]
    """The registered models the service serves, as (name, version)."""
    score: Callable[[Codec, ScoringRequest], Awaitable[Scored]]
    """Score a request on the run thread with the protocol's codec (queued, timed out, maybe
    batched): ``await host.score(codec, request)``."""

    @property
    def ready(self) -> bool:
        """Whether init() succeeded in this worker and it takes requests."""

    @property
    def stopping(self) -> str | None:
        """Why this worker no longer takes requests, if it does not."""

    @property
    def script(self) -> ScoringScript | None:
        """The loaded script (None until it is imported)."""

    @property
    def app_root(self) -> Path:
        """The service's app root (``AML_APP_ROOT``)."""

    async def read_body(self, call: Call) -> Body:
        """The whole request body, within the server's size limit and read timeout."""


class Codec(TypingProtocol):
    """A protocol's run-thread side: request -> run()'s arguments -> response. These run on the
    run thread, never on the event loop (decoding a large body is CPU work)."""

    def score(self, script: ScoringScript, request: ScoringRequest) -> Scored:
        """Decode ``request``, call run(), encode its value (4xx: InvalidInputError; ScriptError)."""

    def decode_array(self, script: ScoringScript, request: ScoringRequest) -> np.ndarray[Any, Any]:
        """The request's array, for a batchable script."""

    def encode(self, value: Any, parse_ms: float, run_ms: float) -> Scored:
        """The response for run()'s value (ScriptError if it cannot be sent)."""


def score_request(
    script: ScoringScript,
    arguments: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]],
    encode: Callable[[Any, float, float], Scored],
) -> Scored:
    """A codec's score(): ``arguments()`` decodes run()'s arguments (4xx: InvalidInputError), run()
    is called (ScriptError if it raises), ``encode`` makes the answer; parse and run times kept."""
    t0 = time.perf_counter()
    try:
        args, kwargs = arguments()
        parse_ms = (time.perf_counter() - t0) * 1e3
        t1 = time.perf_counter()
        value = script.call(args, kwargs)
        return encode(value, parse_ms, (time.perf_counter() - t1) * 1e3)
    finally:
        fastjson.forget()


class Protocol(abc.ABC):
    """A wire protocol: routes over the :class:`Host`, an error body, an encoding."""

    name: str = ""
    prefix: str = ""
    """Paths under this prefix are this protocol's: an unknown one gets its error body (``/v2``)."""
    routes_hint: str = "use POST /score, GET /, /swagger.json, /health/ready"
    """What a 404 for an unknown path suggests."""

    def __init__(self, host: Host) -> None:
        self.host = host

    @abc.abstractmethod
    def routes(self) -> list[Route]:
        """The routes this protocol serves."""

    @abc.abstractmethod
    def error_body(self, exc: ModelportError | None, debug: bool = False) -> bytes:
        """The body of an error response (None: a bug of the server's own, no details)."""


def json_bytes(value: Any) -> bytes:
    """``value`` as JSON (an error body): orjson's, or the standard library's where a string holds
    a lone surrogate (a client may send ``"\\ud800"``, valid JSON that orjson will not write back)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value).encode()


def score_batch(
    script: ScoringScript, items: list[tuple[Codec, ScoringRequest]], max_rows: int | None = None
) -> list[Scored | ModelportError]:
    """Score several array requests (each with its protocol's codec) with as few run() calls as
    possible: a request whose body is bad gets its own 4xx and stays out of the batch; the rest
    go to :meth:`ScoringScript.run_batch`, and each gets its own rows back, encoded."""
    outcomes: list[Scored | ModelportError | None] = [None] * len(items)
    indices: list[int] = []
    inputs: list[np.ndarray[Any, Any]] = []
    parse_ms: list[float] = []
    for i, (codec, request) in enumerate(items):
        t0 = time.perf_counter()
        try:
            inputs.append(codec.decode_array(script, request))
        except ModelportError as exc:
            outcomes[i] = exc
            continue
        indices.append(i)
        parse_ms.append((time.perf_counter() - t0) * 1e3)
    ran = script.run_batch(inputs, max_rows)
    for i, parsed_ms, result in zip(indices, parse_ms, ran, strict=True):
        if isinstance(result, ScriptError):
            outcomes[i] = result
            continue
        try:
            outcomes[i] = items[i][0].encode(result.value, parsed_ms, result.run_ms)
        except ModelportError as exc:  # ScriptError, or a 4xx only the answer shows (V2's outputs)
            outcomes[i] = exc
    return [o for o in outcomes if o is not None]
