"""The scoring server as a Ray Serve replica: the same app, protocols and runtime as a local worker.

The Ray target (``modelport.deploy.targets.ray``) deploys :class:`ScoringReplica` as one Serve
application per service. Each replica builds the scoring app a local worker builds
(:func:`modelport.server.app.create_app`: auth, limits, timeouts, the v1 routes, error bodies
``{"message", "code"}``) and calls the user's ``init()`` before Ray counts it as started, so an
``init()`` that raises fails the replica's start with that traceback (which Ray reports as the
application's status message). Requests come through Serve's HTTP proxy with the route prefix
``/api/v1/service/<name>`` (AKS's URI shape) and reach the app with the prefix taken off.

Ray imports this module in the replica's own interpreter (the environment modelport built for the
service); the deploying process imports it by name only, as the local target starts the server
by ``-m modelport.server``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

from ray import serve

from modelport.errors import InvalidInputError
from modelport.server.app import ScoringApp, create_app
from modelport.server.auth import RELOAD_INTERVAL_S, Keys, KeyStore
from modelport.server.config import ServerConfig
from modelport.servicefiles import ServiceKeys

__all__ = ["VERSION_HEADER", "EndpointRouter", "ScoringReplica"]

VERSION_HEADER = b"azureml-model-deployment"
"""AKS's header naming the endpoint version that served a request (and pinning one in a request)."""

log = logging.getLogger("modelport.server")

PIN_FOR_S = 600
"""How long a replica's pin keeps its packages in the cluster's GCS (renewed every PIN_EVERY_S)."""
PIN_EVERY_S = 60.0


def pin_packages() -> None:
    """Keep this replica's shipped packages (its ``working_dir``, its ``py_modules``) in the
    cluster's GCS for :data:`PIN_FOR_S` more seconds.

    Ray deletes an uploaded package once nothing references it, and a replica's reference ends
    with it: a service whose only replica died lost its packages before Serve's replacement
    started (measured, tests/ray/test_isolated_node.py: gone from the GCS; the replacement still
    started, from its node's own copy, which a replacement on another node does not have). So
    each replica renews a timed pin (Ray's own kind, which its uploads take for 10 minutes): the
    packages outlive a replica by PIN_FOR_S, and a deleted service's are collected that long after.
    """
    import ray
    from ray.experimental.internal_kv import _pin_runtime_env_uri

    renv = ray.get_runtime_context().runtime_env
    for uri in [renv.get("working_dir"), *(renv.get("py_modules") or [])]:
        if isinstance(uri, str) and uri.startswith("gcs://"):
            _pin_runtime_env_uri(uri, expiration_s=PIN_FOR_S)


class ClusterKeys(KeyStore):
    """A service's keys from the Ray cluster's key-value store (its GCS), where the Ray target
    puts them (``modelport.deploy.ray_env``): never a file on the node. Re-read at most every
    0.5 s, so a regenerated key takes effect without a restart; a missing entry accepts no key."""

    def __init__(self, namespace: str, name: str) -> None:
        super().__init__()
        self._namespace = namespace
        self._name = name.encode()
        self._raw: bytes | None = None
        self._fetch()

    def current(self) -> Keys:
        if time.monotonic() - self._checked >= RELOAD_INTERVAL_S:
            self._fetch()
        return self._keys

    def _fetch(self) -> None:
        from ray.experimental.internal_kv import _internal_kv_get

        self._checked = time.monotonic()
        try:
            raw = _internal_kv_get(self._name, namespace=self._namespace)
        except Exception as exc:  # the GCS did not answer: keep the keys in force
            log.warning(
                "cannot read the service's keys from the Ray cluster (%s): keeping the current ones", exc
            )
            return
        if raw == self._raw:
            return
        try:
            self._keys = ServiceKeys.from_json(raw) if raw else Keys()
        except InvalidInputError as exc:
            log.warning("the service's keys in the Ray cluster are unreadable (%s): refusing keys", exc)
            self._keys = Keys()
        if self._raw is not None:
            log.info("the service's keys changed: keys reloaded")
        self._raw = raw


class _Mounted:
    """The scoring app under a route prefix: the prefix comes off the path; lifespan is done."""

    def __init__(self, app: ScoringApp, version: str | None) -> None:
        self.app = app
        self.header = (VERSION_HEADER, version.encode()) if version else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            # init() already ran in __serve_build_asgi_app__ (so a failure fails the replica).
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.app.service.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        root = scope.get("root_path") or ""
        path = scope["path"]
        if root and path.startswith(root):
            scope = {**scope, "path": path[len(root) :] or "/", "root_path": ""}
        if self.header is None:
            await self.app(scope, receive, send)
            return
        header = self.header

        async def send_named(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, send_named)


@serve.ingress()
class ScoringReplica:
    """One replica: the scoring app of one service (or one endpoint version).

    ``settings`` are the scoring server's (``ServerConfig`` fields; relative paths are in the
    replica's working directory, the bundle's ``app/`` Ray shipped); ``version`` names the
    AksEndpoint version it serves, if any (every response then carries it); ``keys``:
    ``{"namespace", "name"}`` of the service's keys in the cluster's key-value store.
    """

    def __init__(
        self, settings: dict[str, Any], version: str | None = None, keys: dict[str, str] | None = None
    ) -> None:
        self._settings = dict(settings)
        self._version = version
        self._keys = dict(keys) if keys else None
        self._exit: str | None = None
        self._app: ScoringApp | None = None
        self._pinned = 0.0
        self._pin()

    def _pin(self) -> None:
        self._pinned = time.monotonic()
        try:
            pin_packages()
        except Exception as exc:  # the GCS did not answer: the next health check tries again
            self._pinned = 0.0
            log.warning("cannot pin the replica's packages in the Ray cluster: %s", exc)

    async def __serve_build_asgi_app__(self) -> _Mounted:
        config = ServerConfig.from_mapping(self._settings, base=Path.cwd())
        location = config.location()
        os.environ.update(location.environment())

        def on_exit(code: int, reason: str) -> None:
            # A run() past its timeout, or too much memory: Ray's health check replaces us.
            self._exit = reason

        store = ClusterKeys(self._keys["namespace"], self._keys["name"]) if self._keys else None
        app = create_app(config, on_exit, key_store=store)
        app.service.hold_until_ready_s = 24 * 3600.0  # init() finishes before the replica counts
        await app.service.start()
        error = app.service.init_error
        if error is not None:
            detail = error.traceback_text.rstrip() or f"{error.exc_type}: {error.exc_message}"
            raise RuntimeError(f"init() failed: {error.exc_type}: {error.exc_message}\n{detail}")
        self._app = app
        return _Mounted(app, self._version)

    async def handle_http(
        self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """One HTTP request handed over by an endpoint's router (through a Serve handle): the same
        app (auth included) as a request through the proxy; (status, headers, body)."""
        assert self._app is not None
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "headers": headers,
            "root_path": "",
            "http_version": "1.1",
            "scheme": "http",
            "client": None,
            "server": None,
        }
        given = False

        async def receive() -> dict[str, Any]:
            nonlocal given
            if given:
                await asyncio.Event().wait()  # nothing more: the client is still "connected"
            given = True
            return {"type": "http.request", "body": body, "more_body": False}

        answer: dict[str, Any] = {"status": 500, "headers": []}
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"], answer["headers"] = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await _Mounted(self._app, self._version)({**scope}, receive, send)
        return int(answer["status"]), answer["headers"], b"".join(chunks)

    def node_id(self) -> str:
        """The Ray node this replica runs on (placement checks, docs/scale-out.md)."""
        import ray

        return str(ray.get_runtime_context().get_node_id())

    def origin(self) -> dict[str, str]:
        """Where this replica's code and files come from on its node: its node, its working
        directory (the shipped ``app/``), the modelport it imported and its interpreter."""
        import sys

        import modelport

        return {
            "node": self.node_id(),
            "cwd": os.getcwd(),
            "modelport": str(Path(modelport.__file__).resolve()),
            "python": sys.executable,
        }

    def check_health(self) -> None:
        """Ray calls this periodically; raising makes it replace this replica. It also renews the
        pin of the replica's packages (:func:`pin_packages`)."""
        if time.monotonic() - self._pinned >= PIN_EVERY_S:
            self._pin()
        if self._exit is not None:
            raise RuntimeError(f"replica asked to be replaced: {self._exit}")


@serve.deployment(name="router")
class EndpointRouter:
    """An AksEndpoint's ingress: splits requests over its versions by traffic percentile.

    ``versions`` is ``{version: {"app": Serve application, "traffic": percent, "default": bool}}``.
    Versions other than the default take their percentile; the default takes the rest. A request
    with ``azureml-model-deployment: <version>`` goes to that version. The version's replicas
    answer (auth, status codes and error bodies as any service) and name themselves in the same
    header.
    """

    def __init__(self, versions: dict[str, dict[str, Any]]) -> None:
        self._handles = {
            name: serve.get_deployment_handle("score", app_name=info["app"])
            for name, info in versions.items()
        }
        self._split = [
            (name, float(info.get("traffic") or 0))
            for name, info in versions.items()
            if not info.get("default")
        ]
        defaults = [name for name, info in versions.items() if info.get("default")]
        self._default = defaults[0] if defaults else next(iter(versions), None)

    def _pick(self) -> str | None:
        point = random.uniform(0, 100)
        for name, share in self._split:
            if point < share:
                return name
            point -= share
        return self._default

    async def __call__(self, request: Any) -> Any:
        from starlette.responses import JSONResponse, Response

        pinned = request.headers.get(VERSION_HEADER.decode())
        version = pinned or self._pick()
        handle = self._handles.get(version or "")
        if handle is None:
            known = ", ".join(sorted(self._handles)) or "none"
            return JSONResponse(
                {
                    "message": f"this endpoint has no version {version!r} (versions: {known})",
                    "code": "NotFoundError",
                },
                status_code=404,
            )
        scope = request.scope
        path = scope["path"]
        root = scope.get("root_path") or ""
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        status, headers, body = await handle.handle_http.remote(
            scope["method"],
            path,
            scope.get("query_string", b""),
            list(scope["headers"]),
            await request.body(),
        )
        response = Response(content=body, status_code=status)
        named = [(bytes(k), bytes(v)) for k, v in headers if bytes(k).lower() != VERSION_HEADER]
        response.raw_headers = [*named, (VERSION_HEADER, str(version).encode())]
        return response
