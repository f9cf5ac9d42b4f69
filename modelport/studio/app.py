"""The studio's ASGI app: a static single-page front end and a JSON API over the engine.

Every route sits behind :class:`~modelport.studio.security.StudioGuard` (token, CSRF, loopback
Host). The handlers are thin: they parse the request, call the engine or a registry (through
:mod:`modelport.studio.views`) and return JSON; a :class:`~modelport.errors.ModelportError`
becomes ``{"message", "code"}`` with its ``http_status`` in one handler.

Example::

    import uvicorn
    from modelport.studio import create_app
    from modelport.workspace import Workspace

    app = create_app(Workspace.get("demo"), token="s3cret-token", port=8765)
    uvicorn.run(app, host="127.0.0.1", port=8765)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import modelport
from modelport import keys as keyfile
from modelport.deploy import engine, records
from modelport.deploy.records import keys_path
from modelport.errors import InvalidInputError, ModelportError, NotFoundError, ServiceCallError
from modelport.registry import models as model_registry
from modelport.studio import monitoring as monitoring_view
from modelport.studio import views
from modelport.studio.scrape import History
from modelport.studio.security import StudioGuard
from modelport.studio.snippets import snippets
from modelport.workspace import Workspace

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 4 * 1024**3
MAX_TEST_BODY_BYTES = 100 * 1024**2
LOG_POLL_S = 0.25


def _error(exc: ModelportError) -> JSONResponse:
    return JSONResponse({"message": exc.message, "code": type(exc).__name__}, status_code=exc.http_status)


async def _modelport_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModelportError)
    return _error(exc)


def _masked(value: str | None) -> str | None:
    return None if not value else "•" * 12


class Studio:
    """The handlers, over one workspace."""

    def __init__(self, ws: Workspace, csrf: str, scrape_interval: float) -> None:
        self.ws = ws
        self.csrf = csrf
        self.history = History(self._fetch_metrics, scrape_interval)

    # -- session -----------------------------------------------------------------------------
    async def index(self, _request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def session(self, _request: Request) -> Response:
        return JSONResponse({"csrf": self.csrf, "workspace": self.ws.name, "version": modelport.__version__})

    # -- services ----------------------------------------------------------------------------
    def services(self, _request: Request) -> Response:
        return JSONResponse([views.service_summary(r) for r in engine.list_services(self.ws)])

    def service(self, request: Request) -> Response:
        record = engine.refresh(self.ws, request.path_params["name"])
        return JSONResponse(views.service_detail(self.ws, record))

    def restart(self, request: Request) -> Response:
        record = engine.restart(self.ws, request.path_params["name"])
        self.history.forget(record.name)
        return JSONResponse(views.service_summary(record))

    def delete(self, request: Request) -> Response:
        name = request.path_params["name"]
        engine.delete(self.ws, name)
        self.history.forget(name)
        return JSONResponse({"deleted": name})

    def example(self, request: Request) -> Response:
        record = engine.refresh(self.ws, request.path_params["name"])
        return JSONResponse(views.example_input(self._swagger(record)))

    def _swagger(self, record: records.ServiceRecord) -> dict[str, Any] | None:
        """The service's swagger through the client boundary; None when it does not answer."""
        client = engine.client(self.ws, record)
        try:
            return client.swagger()
        except (ModelportError, ValueError):
            return None
        finally:
            client.close()

    async def test(self, request: Request) -> Response:
        """Send the editor's body to the service through the client boundary, with its key."""
        body = await request.body()
        if len(body) > MAX_TEST_BODY_BYTES:
            raise InvalidInputError(f"the test body is larger than {MAX_TEST_BODY_BYTES // 2**20} MB")
        return await run_in_threadpool(self._score, request.path_params["name"], body)

    def _score(self, name: str, body: bytes) -> Response:
        record = engine.refresh(self.ws, name)
        client = engine.client(self.ws, record)
        started = time.perf_counter()
        try:
            answer = client.score(body)
            status, text = 200, answer if isinstance(answer, str) else json.dumps(answer)
        except ServiceCallError as exc:
            status, text = exc.status_code, exc.body
        except ModelportError as exc:
            status, text = exc.http_status, exc.message
        finally:
            client.close()
        latency = (time.perf_counter() - started) * 1000.0
        return JSONResponse({"status": status, "latency_ms": round(latency, 2), "response": text})

    def consume(self, request: Request) -> Response:
        record = engine.refresh(self.ws, request.path_params["name"])
        return JSONResponse(self._consume(record, reveal=False))

    async def reveal(self, request: Request) -> Response:
        """Keys in clear, only on request (a POST, so it takes the CSRF check)."""
        name = request.path_params["name"]
        return JSONResponse(await run_in_threadpool(self._consume, engine.refresh(self.ws, name), True))

    def _consume(self, record: records.ServiceRecord, reveal: bool) -> dict[str, Any]:
        mode = views.auth_mode(record)
        keys: dict[str, str | None] = {"primary_key": None, "secondary_key": None}
        if mode == "key":
            stored = keyfile.read_keys(keys_path(self.ws, record.name))
            shown = {"primary_key": stored.primary_key, "secondary_key": stored.secondary_key}
            keys = {k: v if reveal else _masked(v) for k, v in shown.items()}
        credential = None
        if mode != "none":
            credential = engine.credential(self.ws, record) if reveal else f"<{mode}>"
        example = views.example_input(self._swagger(record))["example"]
        if example is None:
            example = {"data": [[0.0, 0.0]]}
        return {
            "scoring_uri": record.scoring_uri,
            "swagger_uri": record.swagger_uri,
            "api_page": views.api_page(record),
            "auth": mode,
            "revealed": reveal,
            "keys": keys,
            "snippets": snippets(record.name, self.ws.name, record.scoring_uri or "", credential, example),
        }

    async def regenerate(self, request: Request) -> Response:
        name = request.path_params["name"]
        which = (await _json(request)).get("key", "")

        def work() -> dict[str, Any]:
            record = engine.refresh(self.ws, name)
            if views.auth_mode(record) != "key":
                raise InvalidInputError(f"service '{name}' does not use key auth: no keys to regenerate")
            keyfile.regenerate(keys_path(self.ws, name), str(which), None)
            return {"regenerated": str(which).lower()}

        return JSONResponse(await run_in_threadpool(work))

    def token(self, request: Request) -> Response:
        record = engine.refresh(self.ws, request.path_params["name"])
        token, refresh_after = engine.token(self.ws, record)
        return JSONResponse({"token": token, "refresh_after": refresh_after})

    def logs(self, request: Request) -> Response:
        record = engine.refresh(self.ws, request.path_params["name"])
        init = request.query_params.get("init") == "1"
        lines = _int(request.query_params.get("lines"), 500)
        return JSONResponse({"text": engine.logs(self.ws, record, num_lines=lines, init=init)})

    async def follow(self, request: Request) -> Response:
        """The service log as server-sent events: the last lines, then each new line as written.

        Each event's id is ``<deployment folder>:<byte offset>``: a browser that reconnects sends
        it back (``Last-Event-ID``) and gets only what it missed, not the last lines again."""
        name = request.path_params["name"]
        record = await run_in_threadpool(engine.refresh, self.ws, name)
        if not record.log_file:
            raise InvalidInputError(f"service '{name}' has no log file to follow")
        path = Path(record.log_file)
        resumed = _resume_offset(request.headers.get("last-event-id"), path)
        # Where the stream starts is decided before the response starts: the browser's 'open'
        # event comes with the headers, and a line written after it must be sent. (Measured from
        # inside the stream, a line written between the headers and the first read was lost.)
        if resumed is None:
            first, offset = await run_in_threadpool(_tail, path, 200)
        else:
            first, offset = [], resumed
        return StreamingResponse(
            self._follow(name, path, first, offset),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},
        )

    async def _follow(self, name: str, path: Path, first: list[str], offset: int) -> AsyncIterator[str]:
        yield _event(first, path, offset)
        pending = b""
        checked = quiet = time.monotonic()
        while True:
            await asyncio.sleep(LOG_POLL_S)
            now = time.monotonic()
            if now - checked > 2.0:  # redeployed or restarted into a new bundle: follow its log
                checked = now
                with contextlib.suppress(ModelportError):
                    moved = (await run_in_threadpool(records.load, self.ws, name)).log_file
                    if moved and Path(moved) != path:
                        path, offset, pending = Path(moved), 0, b""
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if size < offset:  # truncated: start again
                offset, pending = 0, b""
            if size == offset:
                if now - quiet > 15.0:
                    quiet = now
                    yield ": keep-alive\n\n"
                continue
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read(size - offset)
            offset = size
            pending += chunk
            *complete, pending = pending.split(b"\n")
            if complete:
                quiet = now
                lines = [line.decode("utf-8", "replace") for line in complete]
                yield _event(lines, path, offset - len(pending))

    def metrics(self, request: Request) -> Response:
        name = request.path_params["name"]
        records.load(self.ws, name)  # ServiceNotFound for a name with no service
        self.history.watch(name)
        if not self.history.report(name)["points"]:
            self.history.scrape(name)  # the first look: a sample now, so the next one makes a point
        return JSONResponse(self.history.report(name))

    def monitoring(self, request: Request) -> Response:
        record = engine.refresh(self.ws, request.path_params["name"])
        try:
            text: str | None = self._fetch_metrics(record.name)
        except (ModelportError, OSError):
            text = None  # not running: the files still say what was collected
        return JSONResponse(monitoring_view.monitoring(self.ws, record, text))

    def monitoring_report(self, request: Request) -> Response:
        record = records.load(self.ws, request.path_params["name"])
        detector = request.path_params["detector"]
        path = monitoring_view.report_file(self.ws, record, detector)
        if path is None:
            raise NotFoundError(f"detector '{detector}' has no report for service '{record.name}'")
        return FileResponse(
            path,
            media_type="text/html; charset=utf-8",
            filename=f"{detector}-{path.stem}.html",
            content_disposition_type="attachment",
        )

    def _fetch_metrics(self, name: str) -> str:
        client = engine.client(self.ws, records.load(self.ws, name))  # the one client boundary
        try:
            return client.metrics()
        finally:
            client.close()

    # -- models and environments ---------------------------------------------------------------
    def models(self, _request: Request) -> Response:
        return JSONResponse(views.models(self.ws))

    def model_version(self, request: Request) -> Response:
        version = _int(request.path_params["version"], None)
        if version is None:
            raise InvalidInputError(f"model version must be a number, got {request.path_params['version']!r}")
        return JSONResponse(views.model_version(self.ws, request.path_params["name"], version))

    async def upload(self, request: Request) -> Response:
        """Register the request body as a new version of a model: ``POST /api/models/{name}
        ?filename=model.pkl`` with optional ``description``, ``framework`` and ``tags`` (JSON)."""
        name = model_registry.check_model_name(request.path_params["name"])
        query = request.query_params
        filename = Path(query.get("filename", "")).name
        if filename in ("", ".", ".."):
            raise InvalidInputError("filename: give the uploaded file's name (?filename=model.pkl)")
        try:
            tags = json.loads(query.get("tags") or "{}")
        except ValueError:
            raise InvalidInputError("tags must be a JSON object of strings") from None
        folder = Path(tempfile.mkdtemp(prefix="modelport-upload-"))
        try:
            path = folder / filename
            size = 0
            with open(path, "wb") as f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        raise InvalidInputError(f"upload larger than {MAX_UPLOAD_BYTES // 2**30} GB")
                    f.write(chunk)
            record = await run_in_threadpool(
                lambda: model_registry.register(
                    self.ws,
                    path,
                    name,
                    tags=tags,
                    description=query.get("description") or None,
                    framework=query.get("framework") or None,
                )
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return JSONResponse({"name": record.name, "version": record.version}, status_code=201)

    def environments(self, _request: Request) -> Response:
        return JSONResponse(views.environments(self.ws))

    async def scrape_forever(self) -> None:
        while True:
            await asyncio.sleep(self.history.interval)
            await run_in_threadpool(self.history.scrape_watched)


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise InvalidInputError("the request body must be JSON") from None
    if not isinstance(data, dict):
        raise InvalidInputError("the request body must be a JSON object")
    return data


def _int(value: str | None, default: int | None) -> Any:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


TAIL_BYTES = 256 * 1024


def _tail(path: Path, num_lines: int) -> tuple[list[str], int]:
    """The last ``num_lines`` complete lines of ``path`` and the offset just after them (a line
    still being written is left for the stream to send whole)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - TAIL_BYTES)
            f.seek(start)
            data = f.read(size - start)
    except OSError:
        return [], 0
    end = data.rfind(b"\n") + 1
    lines = data[:end].split(b"\n")[:-1]
    if start > 0 and lines:
        lines = lines[1:]  # the first one may be cut
    return [line.decode("utf-8", "replace") for line in lines[-num_lines:]], start + end


def _resume_offset(last_event_id: str | None, path: Path) -> int | None:
    """The offset a reconnecting browser had reached in ``path`` (None: start with the tail)."""
    folder, _, offset = (last_event_id or "").rpartition(":")
    if folder != path.parent.name or not offset.isdigit():
        return None
    return int(offset)


def _event(lines: list[str], path: Path, offset: int) -> str:
    return f"id: {path.parent.name}:{offset}\ndata: {json.dumps(lines)}\n\n"


def create_app(
    ws: Workspace,
    token: str,
    *,
    port: int,
    loopback_only: bool = True,
    scrape_interval: float = 2.0,
) -> StudioGuard:
    """The studio over ``ws``: only requests carrying ``token`` get anything but 401."""
    if len(token) < 16:
        raise InvalidInputError("the studio token must be at least 16 characters")
    csrf = secrets.token_urlsafe(32)
    studio = Studio(ws, csrf, scrape_interval)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(studio.scrape_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    s = studio
    routes = [
        Route("/", s.index),
        Route("/favicon.ico", lambda _request: Response(status_code=204)),
        Route("/api/session", s.session),
        Route("/api/services", s.services),
        Route("/api/services/{name}", s.service),
        Route("/api/services/{name}", s.delete, methods=["DELETE"]),
        Route("/api/services/{name}/restart", s.restart, methods=["POST"]),
        Route("/api/services/{name}/example", s.example),
        Route("/api/services/{name}/test", s.test, methods=["POST"]),
        Route("/api/services/{name}/consume", s.consume),
        Route("/api/services/{name}/keys", s.reveal, methods=["POST"]),
        Route("/api/services/{name}/keys/regenerate", s.regenerate, methods=["POST"]),
        Route("/api/services/{name}/token", s.token, methods=["POST"]),
        Route("/api/services/{name}/logs", s.logs),
        Route("/api/services/{name}/logs/follow", s.follow),
        Route("/api/services/{name}/metrics", s.metrics),
        Route("/api/services/{name}/monitoring", s.monitoring),
        Route("/api/services/{name}/monitoring/report/{detector}", s.monitoring_report),
        Route("/api/models", s.models),
        Route("/api/models/{name}", s.upload, methods=["POST"]),
        Route("/api/models/{name}/{version}", s.model_version),
        Route("/api/environments", s.environments),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={ModelportError: _modelport_error})
    app.state.studio = studio
    return StudioGuard(app, token=token, csrf=csrf, port=port, loopback_only=loopback_only)
