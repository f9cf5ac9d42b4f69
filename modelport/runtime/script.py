"""A loaded scoring script: init() once, then run() calls, alone or in batches.

Only the user's code lives here: how an HTTP request becomes run()'s arguments, and how its value
becomes a response, is the wire protocol's (modelport.protocols), which calls :meth:`ScoringScript.call`.
"""

from __future__ import annotations

import enum
import inspect
import itertools
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from modelport.errors import ScriptError
from modelport.runtime import arrays, replaced
from modelport.runtime.arrays import ArraySpec
from modelport.runtime.bodies import is_json_type, parse_json
from modelport.runtime.encode import Encoded
from modelport.runtime.loader import ScriptLocation, load_module
from modelport.runtime.rawhttp import is_rawhttp
from modelport.runtime.schema import REQUEST_HEADERS_PARAM, RunSchema, inspect_run

__all__ = ["InputStyle", "Ran", "Scored", "ScoringScript", "is_json_type", "parse_json"]

log = logging.getLogger("modelport.runtime")


class InputStyle(enum.Enum):
    """How run() wants its input."""

    PLAIN = "plain"  # run(raw_data: str)
    SCHEMA = "schema"  # inference-schema decorated: run(**converted_json_object)
    RAWHTTP = "rawhttp"  # @rawhttp: run(request: AMLRequest)
    ARRAY = "array"  # @array_input: run(array: np.ndarray)


@dataclass(slots=True)
class Scored:
    """The outcome of scoring one request, with where the time went (milliseconds)."""

    response: Encoded
    parse_ms: float
    run_ms: float
    serialize_ms: float
    printed: str = ""
    """What run() printed while serving it (kept only when the server traces requests)."""


@dataclass(slots=True)
class Ran:
    """What one run() call returned for one input, and how long the call took (milliseconds;
    for a batch, the whole batch's call)."""

    value: Any
    run_ms: float


_OWN_FILES = (str(Path(__file__).parent), "<frozen importlib")


def _script_error(phase: str, exc: BaseException) -> ScriptError:
    # Start the traceback at the user's code: our frames and importlib's say nothing to them.
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename.startswith(_OWN_FILES):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if phase in ("load", "init"):  # a model saved with a pin the environment replaced
        hint = replaced.hint_for(text)
        text = f"{text.rstrip()}\n{hint}\n" if hint else text
    return ScriptError(phase, type(exc).__name__, str(exc), text)


class ScoringScript:
    """A user's scoring script, loaded from its path. Not thread-safe: call from one thread.

    >>> script = ScoringScript.load(location)  # doctest: +SKIP
    >>> script.init()  # doctest: +SKIP
    >>> script.call(('{"data": [[1]]}',), {})  # doctest: +SKIP
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
        self.wants_headers = _accepts(run, REQUEST_HEADERS_PARAM)
        """Whether run() takes a ``request_headers`` parameter."""
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

    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``run(*args, **kwargs)``, timed into :attr:`last_run_s`; what it raises becomes
        ScriptError("run") with the traceback from the user's frame."""
        t1 = time.perf_counter()
        try:
            value = self._run(*args, **kwargs)
        except Exception as exc:
            self.last_run_s = time.perf_counter() - t1
            raise _script_error("run", exc) from exc
        self.last_run_s = time.perf_counter() - t1
        return value

    def call_array(self, array: np.ndarray[Any, Any]) -> Any:
        """run() on one array, for a script that takes one (:attr:`batchable`); as :meth:`call`."""
        if self.style is InputStyle.ARRAY:
            return self.call((array,), {})
        assert self.array_spec is not None
        return self.call((), {self.array_spec.name: array})

    # -- batches -----------------------------------------------------------------------------------
    @property
    def batchable(self) -> bool:
        """Whether inputs can be run in batches: run() takes exactly one array."""
        spec = self.array_spec
        if spec is None or self.wants_headers:
            return False
        if self.style is InputStyle.ARRAY:
            return True
        return self.schema is not None and self.schema.arg_names == [spec.name]

    def run_batch(
        self, inputs: list[np.ndarray[Any, Any]], max_rows: int | None = None
    ) -> list[Ran | ScriptError]:
        """Run several arrays with as few run() calls as possible, stacked along axis 0.

        Each input gets its own rows of the result back. If run() raises on a batch (or returns
        something that cannot be split by rows), every input is run on its own, so only a bad one
        fails. ``max_rows``: no run() call gets more rows than this (a larger input runs alone).
        :attr:`last_run_s` is the time of every run() call together.
        """
        outcomes: list[Ran | ScriptError | None] = [None] * len(inputs)
        run_s = 0.0
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, array in enumerate(inputs):  # only arrays of the same row shape can be stacked
            groups.setdefault((array.shape[1:], array.ndim), []).append(i)
        chunks: list[list[int]] = []
        for same_shape in groups.values():
            rows = 0
            for i in same_shape:
                full = max_rows is not None and rows + len(inputs[i]) > max_rows
                if not chunks or (chunks[-1] and full):
                    chunks.append([])
                    rows = 0
                chunks[-1].append(i)
                rows += len(inputs[i])
            chunks.append([])  # groups never share a chunk
        for group in (c for c in chunks if c):
            results = (
                self._batch_group([inputs[i] for i in group])
                if len(group) > 1 and self._unsplittable is None
                else None
            )
            if results is None:
                for i in group:
                    outcomes[i] = self._run_one(inputs[i])
                    run_s += self.last_run_s or 0.0
            else:
                run_s += self.last_run_s or 0.0
                for i, ran in zip(group, results, strict=True):
                    outcomes[i] = ran
        self.last_run_s = run_s
        return [o for o in outcomes if o is not None]

    def _batch_group(self, group: list[np.ndarray[Any, Any]]) -> list[Ran] | None:
        counts = [len(array) for array in group]
        batch = np.concatenate(group)
        try:
            value = self.call_array(batch)
        except ScriptError:
            return None  # retried one by one: only the bad input fails
        run_ms = (self.last_run_s or 0.0) * 1e3
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
        return [Ran(part, run_ms) for part in parts]

    def _run_one(self, array: np.ndarray[Any, Any]) -> Ran | ScriptError:
        try:
            value = self.call_array(array)
        except ScriptError as exc:
            return exc
        return Ran(value, (self.last_run_s or 0.0) * 1e3)


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
