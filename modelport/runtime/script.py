"""A loaded scoring script: init() once, then score() per request, whatever its input style."""

from __future__ import annotations

import enum
import inspect
import itertools
import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import orjson

from modelport.errors import InvalidInputError, ModelportError, ScriptError, UnsupportedMediaType
from modelport.runtime import arrays, fastjson
from modelport.runtime.arrays import ArraySpec
from modelport.runtime.encode import Encoded, encode_result
from modelport.runtime.loader import ScriptLocation, load_module
from modelport.runtime.rawhttp import AMLRequest, is_rawhttp
from modelport.runtime.request import Body, ScoringRequest
from modelport.runtime.schema import REQUEST_HEADERS_PARAM, RunSchema, inspect_run

log = logging.getLogger("modelport.runtime")


class InputStyle(enum.Enum):
    """How run() wants its input."""

    PLAIN = "plain"  # run(raw_data: str)
    SCHEMA = "schema"  # inference-schema decorated: run(**converted_json_object)
    RAWHTTP = "rawhttp"  # @rawhttp: run(request: AMLRequest)
    ARRAY = "array"  # @array_input: run(array: np.ndarray)


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


def parse_json(body: Body) -> Any:
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
        self.array_spec: ArraySpec | None = None
        """The array input run() declares (``@array_input`` or a NumpyParameterType), if any."""
        if is_rawhttp(run):
            self.style = InputStyle.RAWHTTP
        elif isinstance(getattr(run, arrays.ARRAY_ATTR, None), ArraySpec):
            self.style = InputStyle.ARRAY
            self.array_spec = arrays.array_spec_of(run)
        else:
            self.schema = inspect_run(run)
            self.style = InputStyle.SCHEMA if self.schema is not None else InputStyle.PLAIN
            if self.schema is not None:
                numpy_params = {n: p.param_type for n, p in self.schema.params.items() if p.convert}
                self.array_spec = arrays.array_spec_of(run, numpy_params)
        self._wants_headers = _accepts(run, REQUEST_HEADERS_PARAM)
        self._unsplittable: str | None = None  # why batches of this script are run one by one
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
        parse_ms = (time.perf_counter() - t0) * 1e3
        try:
            return self._call_and_encode(lambda: self._run(*args, **kwargs), parse_ms)
        finally:
            fastjson.forget()

    def _call_and_encode(self, call: Callable[[], Any], parse_ms: float) -> Scored:
        """``call()`` (run()) timed into :attr:`last_run_s`, its value encoded; ScriptError if
        run() raised or returned what cannot be sent."""
        t1 = time.perf_counter()
        try:
            value = call()
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
        return Scored(response, parse_ms, (t2 - t1) * 1e3, (time.perf_counter() - t2) * 1e3)

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
                text = request.body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInputError(
                    f"the request body is not valid UTF-8 text (bad byte at offset {exc.start})"
                ) from exc
            fastjson.remember(text, request.body)
            return (text,), kwargs
        if self.style is InputStyle.ARRAY:
            return (self.parse_array(request),), kwargs
        assert self.schema is not None
        spec = self.array_spec
        if spec is not None and request.method == "POST" and _media_type(request.content_type) == arrays.NPY:
            kwargs.update(self.schema.convert({spec.name: arrays.parse_npy(request.body, spec)}))
            return (), kwargs
        if request.method == "GET":
            payload: Any = request.query_object()
        else:
            if not is_json_type(request.content_type):
                raise UnsupportedMediaType(
                    f"run() takes JSON: send Content-Type: application/json, not '{request.content_type}'"
                )
            fast = arrays.fast_json_array(request.body, spec, bare=False) if spec is not None else None
            if fast is not None:
                kwargs.update(self.schema.convert({spec.name: fast}))  # type: ignore[union-attr]
                return (), kwargs
            payload = parse_json(request.body)
        if not isinstance(payload, dict):
            raise InvalidInputError(
                "the JSON body must be an object whose keys are run()'s parameters "
                f"({', '.join(self.schema.required or self.schema.arg_names)}), not {_json_kind(payload)}"
            )
        kwargs.update(self.schema.convert(payload))
        return (), kwargs

    # -- array inputs and batches ------------------------------------------------------------------
    @property
    def batchable(self) -> bool:
        """Whether requests can be scored in batches: run() takes exactly one array."""
        spec = self.array_spec
        if spec is None or self._wants_headers:
            return False
        if self.style is InputStyle.ARRAY:
            return True
        return self.schema is not None and self.schema.arg_names == [spec.name]

    def parse_array(self, request: ScoringRequest) -> np.ndarray[Any, Any]:
        """The request's array for an array-input run(): npy or JSON by Content-Type (4xx if neither)."""
        spec = self.array_spec
        assert spec is not None
        if request.method != "POST":
            raise InvalidInputError(f"run() takes a {spec.describe()}: POST it as JSON or {arrays.NPY}")
        media = _media_type(request.content_type)
        if media == arrays.NPY:
            return arrays.parse_npy(request.body, spec)
        if not is_json_type(request.content_type):
            raise UnsupportedMediaType(
                f"run() takes a {spec.describe()}: send Content-Type application/json or {arrays.NPY}, "
                f"not '{request.content_type}'"
            )
        return arrays.parse_json_array(request.body, spec)

    def _call_array(self, array: np.ndarray[Any, Any]) -> Any:
        if self.style is InputStyle.ARRAY:
            return self._run(array)
        assert self.array_spec is not None
        return self._run(**{self.array_spec.name: array})

    def score_batch(
        self, requests: list[ScoringRequest], max_rows: int | None = None
    ) -> list[Scored | ModelportError]:
        """Score several requests with one run() call on their arrays stacked along axis 0.

        Each request gets its own rows of the result back. A request whose body is bad gets its
        own 4xx and stays out of the batch; if run() raises on the batch (or returns something that
        cannot be split by rows), every request is run on its own, so only a bad one fails.
        ``max_rows``: no run() call gets more rows than this (a larger request runs alone).
        """
        outcomes: list[Scored | ModelportError | None] = [None] * len(requests)
        parsed: list[tuple[int, np.ndarray[Any, Any], float]] = []
        for i, request in enumerate(requests):
            t0 = time.perf_counter()
            try:
                array = self.parse_array(request)
            except ModelportError as exc:
                outcomes[i] = exc
                continue
            parsed.append((i, array, (time.perf_counter() - t0) * 1e3))
        run_s = 0.0
        groups: dict[tuple[Any, ...], list[tuple[int, np.ndarray[Any, Any], float]]] = {}
        for item in parsed:  # only arrays of the same row shape can be stacked
            groups.setdefault((item[1].shape[1:], item[1].ndim), []).append(item)
        chunks: list[list[tuple[int, np.ndarray[Any, Any], float]]] = []
        for same_shape in groups.values():
            rows = 0
            for item in same_shape:
                full = max_rows is not None and rows + len(item[1]) > max_rows
                if not chunks or (chunks[-1] and full):
                    chunks.append([])
                    rows = 0
                chunks[-1].append(item)
                rows += len(item[1])
            chunks.append([])  # groups never share a chunk
        for group in (c for c in chunks if c):
            results = self._batch_group(group) if len(group) > 1 and self._unsplittable is None else None
            if results is None:
                for i, array, parse_ms in group:
                    outcomes[i] = self._score_array(array, parse_ms)
                    run_s += self.last_run_s or 0.0
            else:
                run_s += self.last_run_s or 0.0
                for (i, _, _), scored in zip(group, results, strict=True):
                    outcomes[i] = scored
        self.last_run_s = run_s
        return [o for o in outcomes if o is not None]

    def _batch_group(
        self, group: list[tuple[int, np.ndarray[Any, Any], float]]
    ) -> list[Scored | ModelportError] | None:
        counts = [len(array) for _, array, _ in group]
        batch = np.concatenate([array for _, array, _ in group])
        t1 = time.perf_counter()
        try:
            value = self._call_array(batch)
        except Exception:
            self.last_run_s = time.perf_counter() - t1
            return None  # retried one by one: only the bad request fails
        t2 = time.perf_counter()
        self.last_run_s = t2 - t1
        parts = _split_rows(value, counts)
        if parts is None:
            self._unsplittable = type(value).__name__
            log.warning(
                "run() returned a %s for a batch of %d rows, which cannot be split back by rows; "
                "requests are scored one by one from now on",
                self._unsplittable,
                sum(counts),
            )
            return None
        out: list[Scored | ModelportError] = []
        for (_, _, parse_ms), part in zip(group, parts, strict=True):
            t3 = time.perf_counter()
            try:
                response = encode_result(part)
            except (TypeError, ValueError) as exc:
                out.append(
                    ScriptError(
                        "run",
                        type(exc).__name__,
                        f"run() returned a value that cannot be sent as JSON: {exc}",
                    )
                )
                continue
            out.append(Scored(response, parse_ms, (t2 - t1) * 1e3, (time.perf_counter() - t3) * 1e3))
        return out

    def _score_array(self, array: np.ndarray[Any, Any], parse_ms: float) -> Scored | ModelportError:
        try:
            return self._call_and_encode(lambda: self._call_array(array), parse_ms)
        except ScriptError as exc:
            return exc


def _split_rows(value: Any, counts: list[int]) -> list[Any] | None:
    """``value`` cut into consecutive pieces of ``counts`` rows, or None if it has no such rows."""
    total = sum(counts)
    offsets = np.cumsum(counts)[:-1].tolist()
    if isinstance(value, np.ndarray):
        if value.ndim == 0 or len(value) != total:
            return None
        return np.split(value, offsets)
    if isinstance(value, list | tuple):
        if len(value) != total:
            return None
        bounds = [0, *offsets, total]
        return [list(value[a:b]) for a, b in itertools.pairwise(bounds)]
    iloc = getattr(value, "iloc", None)  # pandas Series / DataFrame
    if iloc is not None and hasattr(value, "__len__") and len(value) == total:
        bounds = [0, *offsets, total]
        return [iloc[a:b] for a, b in itertools.pairwise(bounds)]
    return None


def _media_type(content_type: str | None) -> str:
    return content_type.split(";", 1)[0].strip().lower() if content_type else ""


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
