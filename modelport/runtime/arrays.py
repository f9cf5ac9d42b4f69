"""Array inputs: ``run()`` declared to take one numpy array gets the body parsed straight to it.

This module is the declaration and its check; the bodies are parsed by
:mod:`modelport.runtime.json_arrays` and :mod:`modelport.runtime.npy_arrays`. Two ways to
declare it:

- ``@array_input(dtype="float64", shape=(None, 784), name="data")`` from ``modelport.runtime``;
- inference-schema's ``@input_schema("data", NumpyParameterType(sample))`` with a plain numeric
  sample (its dtype, and its shape after the first dimension unless ``enforce_shape=False``).

Bodies it accepts (``Content-Type``): ``application/json`` (or none), ``{"<name>": [[...], ...]}``
or the bare array; ``application/x-npy``, numpy's own format. Either way the array is checked
against the declaration: the number of dimensions, every declared dimension (``None`` = any), and
the dtype. Values are cast, never scaled, to the declared dtype when the cast keeps their kind:
integers (and unsigned) to floats, floats to floats of another size, integers to integers whose
range holds every value; booleans only to booleans. A float array declared integer, a string
array, or values out of range answer 400 naming the mismatch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from modelport.errors import InvalidInputError

__all__ = ["ArraySpec", "array_input", "array_spec_of"]

ARRAY_ATTR = "__modelport_array_input__"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class ArraySpec:
    """What run()'s array input must look like.

    >>> ArraySpec("data", np.dtype("float64"), (None, 784)).describe()
    'float64 array of shape (n, 784)'
    """

    name: str
    dtype: np.dtype[Any]
    shape: tuple[int | None, ...] | None = None
    """Declared shape; ``None`` in a dimension accepts any size; ``None`` overall: any shape."""

    def describe(self) -> str:
        """``float64 array of shape (n, 784)``."""
        if self.shape is None:
            return f"{self.dtype.name} array"
        dims = ", ".join(
            "n" if i == 0 and d is None else "*" if d is None else str(d) for i, d in enumerate(self.shape)
        )
        return f"{self.dtype.name} array of shape ({dims}{',' if len(self.shape) == 1 else ''})"

    def to_json(self) -> dict[str, Any]:
        """For the swagger document and the SDK: ``{"name", "dtype", "shape"}``."""
        return {
            "name": self.name,
            "dtype": self.dtype.name,
            "shape": None if self.shape is None else list(self.shape),
        }

    def conform(self, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """``array`` checked against the declaration and cast to its dtype; InvalidInputError (400)."""
        if self.shape is not None:
            if array.ndim != len(self.shape):
                raise InvalidInputError(
                    f"'{self.name}' must be a {self.describe()}: got {array.ndim} dimension(s), shape "
                    f"{_shape_text(array.shape)}"
                )
            for axis, (want, got) in enumerate(zip(self.shape, array.shape, strict=True)):
                if want is not None and want != got:
                    raise InvalidInputError(
                        f"'{self.name}' must be a {self.describe()}: dimension {axis} is {got}, not "
                        f"{want} (shape {_shape_text(array.shape)})"
                    )
        return _cast(array, self.dtype, self.name)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _cast(array: np.ndarray[Any, Any], dtype: np.dtype[Any], name: str) -> np.ndarray[Any, Any]:
    src = array.dtype
    if src == dtype:
        return array
    ok = {
        "f": "iuf",
        "i": "iu",
        "u": "iu",
        "b": "b",
        "c": "iufc",
    }.get(dtype.kind, "")
    if src.kind not in ok:
        raise InvalidInputError(f"'{name}' must hold {dtype.name} values, got {src.name}")
    if dtype.kind in "iu" and array.size and not np.can_cast(src, dtype):
        info = np.iinfo(dtype)
        low, high = array.min(), array.max()
        if low < info.min or high > info.max:
            raise InvalidInputError(
                f"'{name}' must hold {dtype.name} values: {low if low < info.min else high} is out of range"
            )
    return array.astype(dtype)


def array_input(
    dtype: str | np.dtype[Any] | type = "float64",
    shape: Sequence[int | None] | None = None,
    name: str = "data",
) -> Callable[[F], F]:
    """Declare that ``run`` takes one numpy array: the server parses the body straight to it.

    Example::

        from modelport.runtime import array_input

        @array_input(dtype="float64", shape=(None, 784), name="data")
        def run(data):              # data: np.ndarray, float64, shape (n, 784)
            return model.predict(data)

    JSON bodies are ``{"data": [[...], ...]}`` (or the bare array); ``application/x-npy`` bodies
    are numpy's own format. A body whose shape or dtype does not fit answers 400 naming it.
    Such a script can also be deployed with adaptive batching (``max_batch_size``).
    """
    spec = ArraySpec(name, _simple_dtype(dtype), None if shape is None else _shape(shape))

    def mark(run: F) -> F:
        setattr(run, ARRAY_ATTR, spec)
        return run

    return mark


def _simple_dtype(value: Any) -> np.dtype[Any]:
    try:
        dtype = np.dtype(value)
    except TypeError as exc:
        raise TypeError(f"array_input: {value!r} is not a numpy dtype") from exc
    if dtype.kind not in "biufc" or dtype.fields is not None:
        raise TypeError(f"array_input: dtype must be numeric or bool, not {dtype}")
    return dtype


def _shape(shape: Sequence[int | None]) -> tuple[int | None, ...]:
    dims = tuple(shape)
    if not dims or not all(d is None or (isinstance(d, int) and d >= 0) for d in dims):
        raise TypeError(f"array_input: shape must be a tuple of sizes or None, got {shape!r}")
    return dims


def array_spec_of(run: Callable[..., Any], numpy_params: dict[str, Any] | None = None) -> ArraySpec | None:
    """The array input ``run`` declares: its ``@array_input``, else (``numpy_params``: name ->
    inference-schema parameter type) a lone plain-numeric ``NumpyParameterType``."""
    spec = getattr(run, ARRAY_ATTR, None)
    if isinstance(spec, ArraySpec):
        return spec
    for name, param_type in (numpy_params or {}).items():
        sample = getattr(param_type, "sample_input", None)
        if type(param_type).__name__ != "NumpyParameterType" or not isinstance(sample, np.ndarray):
            continue
        if sample.dtype.kind not in "biuf" or sample.dtype.fields is not None:
            continue
        dtype = sample.dtype if getattr(param_type, "enforce_column_type", True) else np.dtype("float64")
        shape = (None, *sample.shape[1:]) if getattr(param_type, "enforce_shape", True) else None
        return ArraySpec(name, dtype, shape)
    return None
