"""A loaded scoring script: init() once, then score() per request, whatever its input style."""

from __future__ import annotations

import enum
import inspect
import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from modelport.errors import InvalidInputError, ScriptError, UnsupportedMediaType
from modelport.runtime.encode import Encoded, encode_result
from modelport.runtime.loader import ScriptLocation, load_module
from modelport.runtime.rawhttp import AMLRequest, is_rawhttp
from modelport.runtime.request import ScoringRequest
from modelport.runtime.schema import REQUEST_HEADERS_PARAM, RunSchema, inspect_run

log = logging.getLogger("modelport.runtime")


class InputStyle(enum.Enum):
    """How run() wants its input."""

    PLAIN = "plain"  # run(raw_data: str)
    SCHEMA = "schema"  # inference-schema decorated: run(**converted_json_object)
    RAWHTTP = "rawhttp"  # @rawhttp: run(request: AMLRequest)


@dataclass(slots=True)
class Scored:
    """The outcome of one score() call, with where the time went (milliseconds)."""

    response: Encoded
    parse_ms: float
    run_ms: float
    serialize_ms: float


_OWN_FILES = (str(Path(__file__).parent), "<frozen importlib")


def _script_error(phase: str, exc: BaseException) -> ScriptError:
    # Start the traceback at the user's code: our frames and importlib's say nothing to them.
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename.startswith(_OWN_FILES):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return ScriptError(phase, type(exc).__name__, str(exc), text)


def is_json_type(content_type: str | None) -> bool:
    """Whether a Content-Type is JSON (``application/json``, ``application/*+json``) or absent."""
    if not content_type:
        return True
    mt = content_type.split(";", 1)[0].strip().lower()
    return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))


def parse_json(body: bytes) -> Any:
    """Parse a JSON body; orjson first, the standard library for what only it accepts (NaN)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as first:
        try:
            return json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
            raise InvalidInputError(f"the request body is not valid JSON: {first}") from first


class ScoringScript:
    """A user's scoring script, loaded from its path. Not thread-safe: call from one thread.

    >>> script = ScoringScript.load(location)  # doctest: +SKIP
    >>> script.init()  # doctest: +SKIP
    >>> request = ScoringRequest("POST", "/score", body=b'{"data": [[1]]}')
    >>> script.score(request).response.body  # doctest: +SKIP
    """

    def __init__(self, module: ModuleType, location: ScriptLocation) -> None:
        self.module = module
        self.location = location
        run = getattr(module, "run", None)
        if not callable(run):
            raise ScriptError("load", "AttributeError", f"{location.entry_script} defines no run() function")
        self._run: Callable[..., Any] = run
        self.schema: RunSchema | None = None
        if is_rawhttp(run):
            self.style = InputStyle.RAWHTTP
        else:
            self.schema = inspect_run(run)
            self.style = InputStyle.SCHEMA if self.schema is not None else InputStyle.PLAIN
        self._wants_headers = _accepts(run, REQUEST_HEADERS_PARAM)
        self.last_run_s: float | None = None
        """How long the last run() call took (seconds), whether it returned or raised."""

    @classmethod
    def load(cls, location: ScriptLocation) -> ScoringScript:
        """Import the script; whatever it raises becomes a ScriptError("load") with its traceback."""
        try:
            module = load_module(location)
        except Exception as exc:
            raise _script_error("load", exc) from exc
        return cls(module, location)

    def init(self) -> None:
        """Call the script's init() (if it has one); a failure becomes ScriptError("init")."""
        init = getattr(self.module, "init", None)
        if init is None:
            return
        try:
            init()
        except Exception as exc:
            raise _script_error("init", exc) from exc

    def score(self, request: ScoringRequest) -> Scored:
        """Call run() for one request. Bad input raises InvalidInputError (4xx), run() raising
        raises ScriptError("run") with the traceback; a value that cannot be encoded is ScriptError too."""
        t0 = time.perf_counter()
        args, kwargs = self._arguments(request)
        t1 = time.perf_counter()
        try:
            value = self._run(*args, **kwargs)
        except Exception as exc:
            self.last_run_s = time.perf_counter() - t1
            raise _script_error("run", exc) from exc
        t2 = time.perf_counter()
        self.last_run_s = t2 - t1
        try:
            response = encode_result(value)
        except (TypeError, ValueError) as exc:
            raise ScriptError(
                "run", type(exc).__name__, f"run() returned a value that cannot be sent as JSON: {exc}"
            ) from exc
        t3 = time.perf_counter()
        return Scored(response, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)

    def _arguments(self, request: ScoringRequest) -> tuple[tuple[Any, ...], dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        if self._wants_headers:
            kwargs[REQUEST_HEADERS_PARAM] = request.headers()
        if self.style is InputStyle.RAWHTTP:
            return (AMLRequest(request),), kwargs
        if self.style is InputStyle.PLAIN:
            if request.method == "GET":
                return (orjson.dumps(request.query_object()).decode(),), kwargs
            try:
                return (request.body.decode("utf-8"),), kwargs
            except UnicodeDecodeError as exc:
                raise InvalidInputError(
                    f"the request body is not valid UTF-8 text (bad byte at offset {exc.start})"
                ) from exc
        assert self.schema is not None
        if request.method == "GET":
            payload: Any = request.query_object()
        else:
            if not is_json_type(request.content_type):
                raise UnsupportedMediaType(
                    f"run() takes JSON: send Content-Type: application/json, not '{request.content_type}'"
                )
            payload = parse_json(request.body)
        if not isinstance(payload, dict):
            raise InvalidInputError(
                "the JSON body must be an object whose keys are run()'s parameters "
                f"({', '.join(self.schema.required or self.schema.arg_names)}), not {_json_kind(payload)}"
            )
        kwargs.update(self.schema.convert(payload))
        return (), kwargs


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(value), "null" if value is None else type(value).__name__)


def _accepts(func: Callable[..., Any], name: str) -> bool:
    from modelport.runtime.schema import _base_function

    try:
        target = _base_function(func)
    except Exception:
        target = func
    try:
        return name in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False
