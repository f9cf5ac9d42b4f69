"""Array inputs: ``run()`` declared to take one numpy array gets the body parsed straight to it.

Two ways to declare it:

- ``@array_input(dtype="float64", shape=(None, 784), name="data")`` from ``modelport.runtime``;
- inference-schema's ``@input_schema("data", NumpyParameterType(sample))`` with a plain numeric
  sample (its dtype, and its shape after the first dimension unless ``enforce_shape=False``).

Bodies it accepts (``Content-Type``):

- ``application/json`` (or none): ``{"<name>": [[...], ...]}`` or the bare array. Parsed with
  simdjson straight into a flat buffer of doubles or 64-bit integers, the nesting checked to be
  rectangular, then shaped; anything simdjson cannot take (NaN, strings, 1e400...) goes through
  orjson/json and ``np.asarray``, with the same checks.
- ``application/x-npy``: numpy's own format, read with ``allow_pickle=False`` (object arrays are
  refused).

Either way the array is checked against the declaration: the number of dimensions, every declared
dimension (``None`` = any), and the dtype. Values are cast, never scaled, to the declared dtype when
the cast keeps their kind: integers (and unsigned) to floats, floats to floats of another size,
integers to integers whose range holds every value; booleans only to booleans. A float array
declared integer, a string array, or values out of range answer 400 naming the mismatch.
"""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from modelport.errors import InvalidInputError
from modelport.runtime.request import Body

__all__ = [
    "NPY",
    "ArraySpec",
    "array_input",
    "array_spec_of",
    "fast_json_array",
    "parse_json_array",
    "parse_npy",
]

NPY = "application/x-npy"
ARRAY_ATTR = "__modelport_array_input__"
F = TypeVar("F", bound=Callable[..., Any])
_SMALL_BODY = 1 << 20  # a parser is kept for bodies up to this size; larger ones get their own


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


# -- parsing ---------------------------------------------------------------------------------------
class _Parsers:
    """One reusable simdjson parser per thread for small bodies (it keeps its buffers)."""

    def __init__(self) -> None:
        import threading

        self._local = threading.local()

    def get(self, size: int) -> Any:
        import simdjson

        if size > _SMALL_BODY:
            return simdjson.Parser()  # its buffers are freed with it
        parser = getattr(self._local, "parser", None)
        if parser is None:
            parser = self._local.parser = simdjson.Parser()
        return parser


_parsers = _Parsers()


def parse_json_array(body: Body, spec: ArraySpec) -> np.ndarray[Any, Any]:
    """The array in a JSON body (``{"<name>": array}`` or a bare array), checked against ``spec``."""
    array = _simdjson_array(body, spec)
    if array is None:
        array = _generic_array(body, spec)
    return spec.conform(array)


def fast_json_array(body: Body, spec: ArraySpec, bare: bool = True) -> np.ndarray[Any, Any] | None:
    """The fast path alone: the checked array, or None when the body needs the generic parser.
    ``bare=False``: only ``{"<name>": array}`` (inference-schema scripts take a JSON object)."""
    array = _simdjson_array(body, spec, bare)
    return None if array is None else spec.conform(array)


def _pattern(shape: tuple[int, ...]) -> bytes:
    """The brackets and commas of a rectangular JSON array of ``shape``, without anything else."""
    if len(shape) == 1:
        return b"[" + b"," * (shape[0] - 1) + b"]" if shape[0] else b"[]"
    inner = _pattern(shape[1:])
    return b"[" + b",".join([inner] * shape[0]) + b"]" if shape[0] else b"[]"


def _pattern_size(shape: tuple[int, ...]) -> int:
    """``len(_pattern(shape))``, computed without building it."""
    if not shape[0]:
        return 2
    inner = shape[0] - 1 if len(shape) == 1 else _pattern_size(shape[1:]) * shape[0] + shape[0] - 1
    return inner + 2


def _is_pattern(skeleton: Body, shape: tuple[int, ...]) -> bool:
    # Sizes first: the shape is read from the body, and a pattern built for a shape that does not
    # fit it could be huge (a 200 KB body nested 100,000 deep would ask for 10 GB).
    return len(skeleton) == _pattern_size(shape) and skeleton == _pattern(shape)


_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b"[],")


_WS = b" \t\n\r"
_CHUNK = 512 * 1024  # bytes of rows parsed at a time: simdjson's buffers stay small and warm


def _simdjson_array(body: Body, spec: ArraySpec, bare: bool = True) -> np.ndarray[Any, Any] | None:
    """The fast path; None when the body is not a plain rectangular numeric array (the generic
    path then parses it, and says exactly what is wrong)."""
    kind = spec.dtype.kind
    if kind not in "fiu":
        return None
    try:
        import simdjson  # noqa: F401
    except ImportError:  # pragma: no cover - a dependency; the generic path still works
        return None
    if spec.shape is None or len(spec.shape) == 2:
        rows = _rows_array(body, spec.name, "d" if kind == "f" else "i", bare)
        if rows is not None or spec.shape is not None:
            return rows
    return _whole_array(body, spec, kind, bare)


def _rows_array(
    body: Body, name: str, of_type: Literal["d", "i"], bare: bool = True
) -> np.ndarray[Any, Any] | None:
    """A 2-D array (``{"<name>": [[...], ...]}`` or ``[[...], ...]``), parsed a few hundred KB of
    rows at a time. Everything in the body is accounted for: the text around the rows by a regular
    expression; each chunk of rows by simdjson (valid JSON, nothing but numbers in them); every row
    has the first row's length; the gaps between chunks are single commas; and there are exactly as
    many ``]`` as rows (so no row holds a nested array, which ``as_buffer`` would flatten).
    The ``]`` count is one pass over the body (61 MB: 14 ms, where comparing every bracket and
    comma with the rectangular pattern took 34 ms)."""
    match = _head(name).match(body)
    if match is None or (not bare and match.group(1) is None):
        return None
    first = match.end() - 1  # the first row's "["
    end = len(body)
    closers = [b"]"] + ([b"}"] if match.group(1) else [])
    for closer in reversed(closers):
        end = _skip_back(body, end)
        if end < 1 or body[end - 1 : end] != closer:
            return None
        end -= 1
    last = _skip_back(body, end) - 1  # the last row's "]"
    if last < first or body[last : last + 1] != b"]":
        return None
    n = body.count(b"]", first, last + 1)  # the rows, if none holds an array
    dtype = np.float64 if of_type == "d" else np.int64
    out: np.ndarray[Any, Any] | None = None
    m = 0
    parser = _parsers.get(0)
    start, row = first, 0
    try:
        while True:
            stop = body.find(b"]", min(start + _CHUNK, last))
            doc = parser.parse(b"[" + body[start : stop + 1] + b"]")
            count = len(doc)
            flat = np.frombuffer(doc.as_buffer(of_type=of_type), dtype=dtype)
            if out is None:
                m = len(doc[0])
                if m < 1:
                    return None
                out = np.empty((n, m), dtype=dtype)
            ragged = any(len(r) != m for r in doc)  # (a number instead of a row: TypeError)
            del doc
            if ragged or row + count > n or len(flat) != count * m:
                return None
            out[row : row + count] = flat.reshape(count, m)
            row += count
            if stop >= last:
                break
            start = body.find(b"[", stop)
            if start < 0 or body[stop + 1 : start].strip(_WS) != b",":
                return None
    except (ValueError, TypeError, RuntimeError, IndexError):  # not numbers, NaN, 1e400, > 64-bit ints...
        return None  # (simdjson raises RuntimeError for some: BIGINT_ERROR)
    return out if row == n else None  # more "]" than rows: a row held an array


@functools.lru_cache(maxsize=16)
def _head(name: str) -> re.Pattern[bytes]:
    """What may come before the first row: ``{"<name>":`` (optional) and the two opening brackets."""
    ws = rb"[ \t\n\r]*"
    return re.compile(
        ws + rb"(\{" + ws + b'"' + re.escape(name.encode()) + b'"' + ws + rb":)?" + ws + rb"\[" + ws + rb"\["
    )


def _skip_back(body: Body, end: int) -> int:
    """``end`` moved back over JSON whitespace (at most 64 bytes of it: else -1)."""
    for _ in range(64):
        if end > 0 and body[end - 1] in _WS:
            end -= 1
        else:
            return end
    return -1


def _whole_array(body: Body, spec: ArraySpec, kind: str, bare: bool = True) -> np.ndarray[Any, Any] | None:
    """Any other number of dimensions: the whole document at once."""
    import simdjson

    parser = _parsers.get(len(body))
    try:
        doc = parser.parse(body)
        if isinstance(doc, simdjson.Object):
            keys = list(doc.keys())
            if keys != [spec.name]:
                return None
            value = doc[spec.name]
        elif bare:
            value = doc
        else:
            return None
        if not isinstance(value, simdjson.Array):
            return None
        shape: list[int] = []
        level: Any = value
        while isinstance(level, simdjson.Array):
            shape.append(len(level))
            if not shape[-1]:
                break
            level = level[0]
        if spec.shape is not None and len(shape) != len(spec.shape):
            return None
        # Nothing but numbers in rectangular nesting: the brackets and commas of the body (there
        # is no other string than the one key) must be exactly those of an array of this shape.
        if not _is_pattern(body.translate(None, _NOT_STRUCTURE), tuple(shape)):
            return None
        of_type: Literal["d", "i"] = "d" if kind == "f" else "i"
        flat = value.as_buffer(of_type=of_type)
        del value, level, doc
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError):  # not numbers, NaN, 1e400,
        return None  # > 64-bit ints (simdjson: RuntimeError BIGINT_ERROR)...
    array = np.frombuffer(flat, dtype=np.float64 if of_type == "d" else np.int64)
    if array.size != math.prod(shape):
        return None  # an empty array where a number was due: "[]" and "[1]" have the same brackets
    return array.reshape(shape)


def _generic_array(body: Body, spec: ArraySpec) -> np.ndarray[Any, Any]:
    from modelport.runtime.bodies import parse_json

    payload = parse_json(body)
    if isinstance(payload, dict):
        if spec.name not in payload:
            raise InvalidInputError(f"missing parameter '{spec.name}': send {{\"{spec.name}\": <array>}}")
        unknown = sorted(k for k in payload if k != spec.name)
        if unknown:
            raise InvalidInputError(
                f"unexpected parameter {', '.join(repr(k) for k in unknown)}: run() takes only '{spec.name}'"
            )
        payload = payload[spec.name]
    if not isinstance(payload, list):
        raise InvalidInputError(f"'{spec.name}' must be a {spec.describe()} (a JSON array)")
    try:
        array = np.asarray(payload)
    except ValueError as exc:  # ragged nesting
        raise InvalidInputError(f"'{spec.name}' must be a {spec.describe()}: {_ragged(exc)}") from exc
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"'{spec.name}' must be a {spec.describe()}: its values are not all numbers "
            f"(or its rows have different lengths)"
        )
    return array


def _ragged(exc: ValueError) -> str:
    return "its rows have different lengths" if "inhomogeneous" in str(exc) else str(exc)


def parse_npy(body: Body, spec: ArraySpec) -> np.ndarray[Any, Any]:
    """The array in an ``application/x-npy`` body (never unpickled), checked against ``spec``."""
    if not body.startswith(b"\x93NUMPY"):
        raise InvalidInputError(f"the body is not a .npy array (Content-Type {NPY}): no numpy header")
    try:
        array = _npy_in_place(body)
        if array is None:
            array = np.load(io.BytesIO(body), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise InvalidInputError(
                f"'{spec.name}': object (pickled) arrays are refused; send a numeric array"
            ) from exc
        raise InvalidInputError(f"the body is not a valid .npy array: {exc}") from exc
    except (OSError, EOFError) as exc:
        raise InvalidInputError(f"the body is not a valid .npy array: {exc}") from exc
    if not isinstance(array, np.ndarray):
        raise InvalidInputError("the body is not a .npy array")
    if array.dtype.fields is not None or array.dtype.kind not in "biufc":
        raise InvalidInputError(f"'{spec.name}' must hold {spec.dtype.name} values, got {array.dtype}")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return spec.conform(array)


def _npy_in_place(body: Body) -> np.ndarray[Any, Any] | None:
    """The array of a version 1 or 2 ``.npy`` body as a view of the body itself, without the copy
    ``np.load`` makes (62.7 MB: ~7 ms). Writable when the body is a bytearray (the server's large
    bodies are), else copied, as ``np.load``'s arrays are writable. None for what only ``np.load``
    reads (version 3 headers, object dtypes: refused there with its own message)."""
    version = (body[6], body[7]) if len(body) >= 8 else None
    if version == (1, 0):
        read_header, length_end = np.lib.format.read_array_header_1_0, 10
    elif version == (2, 0):
        read_header, length_end = np.lib.format.read_array_header_2_0, 12
    else:
        return None
    header_end = length_end + int.from_bytes(body[8:length_end], "little")
    stream = io.BytesIO(body[:header_end])
    np.lib.format.read_magic(stream)
    shape, fortran, dtype = read_header(stream)
    if dtype.hasobject:
        return None
    count = 1
    for size in shape:
        count *= size
    offset = stream.tell()
    if len(body) - offset != count * dtype.itemsize:
        needed = count * dtype.itemsize
        raise ValueError(f"its data is {len(body) - offset} bytes; shape {shape} of {dtype} needs {needed}")
    flat = np.frombuffer(body, dtype=dtype, count=count, offset=offset)
    array = flat.reshape(shape, order="F" if fortran else "C")
    return array if array.flags.writeable else array.copy()
