"""Array inputs: the declaration, typed JSON parsed straight to numpy, application/x-npy."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelport.errors import InvalidInputError
from modelport.runtime import ArraySpec, array_input, arrays, json_arrays, npy_arrays

NPY = "application/x-npy"


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=allow_pickle)
    return out.getvalue()


# -- in process: the parsers ------------------------------------------------------------------------
SPEC = ArraySpec("data", np.dtype("float64"), (None, 3))


def test_array_input_decorator_declares_the_spec() -> None:
    @array_input(dtype="float32", shape=(None, 784), name="pixels")
    def run(pixels: Any) -> Any:
        return pixels

    spec = arrays.array_spec_of(run)
    assert spec == ArraySpec("pixels", np.dtype("float32"), (None, 784))
    import modelport.runtime

    assert {"array_input", "ArraySpec"} <= set(modelport.runtime.__all__)
    assert spec.describe() == "float32 array of shape (n, 784)"
    with pytest.raises(TypeError):
        array_input(dtype="U8")
    with pytest.raises(TypeError):
        array_input(shape=(None, -1))


def test_numpy_parameter_type_gives_the_same_spec() -> None:
    from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType

    param = NumpyParameterType(np.zeros((2, 784), dtype=np.float32))
    spec = arrays.array_spec_of(lambda data: data, {"data": param})
    assert spec == ArraySpec("data", np.dtype("float32"), (None, 784))
    loose = NumpyParameterType(np.zeros((2, 3)), enforce_shape=False)
    assert arrays.array_spec_of(lambda data: data, {"data": loose}) == ArraySpec("data", np.dtype("float64"))


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [[1, 2, 3], [4, 5, 6.5]]}',
        b"[[1,2,3],[4,5,6.5]]",
        b' {\n "data" :\n [ [1, 2, 3] ,\n [4,5,6.5] ] }\n',
        b'{"data": [[1, 2, 3], [4, 5, 6.5e0]]}',
    ],
)
def test_typed_json_takes_the_fast_path(body: bytes) -> None:
    fast = json_arrays.fast_json_array(body, SPEC)
    assert fast is not None and fast.dtype == np.float64
    assert fast.tolist() == [[1, 2, 3], [4, 5, 6.5]]
    assert fast.flags.writeable


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"data": [[1, 2, 3], [4, 5]]}', "different lengths"),
        (b'{"data": [[1, 2, 3], [4, 5, [6]]]}', "different lengths"),
        (b'{"data": [[1, 2, 3, 4]]}', "dimension 1 is 4, not 3"),
        (b'{"data": [1, 2, 3]}', "got 1 dimension"),
        (b'{"data": [[1, 2, "3"]]}', "not all numbers"),
        (b'{"data": [[1, 2, 3]], "extra": 1}', "unexpected parameter 'extra'"),
        (b'{"rows": [[1, 2, 3]]}', "missing parameter 'data'"),
        (b'{"data": [[1, 2, 3]]} trailing', "not valid JSON"),
        (b'{"data": [[1, 2, 3] x, [4, 5, 6]]}', "not valid JSON"),
        (b'{"data": 5}', "JSON array"),
    ],
)
def test_typed_json_mismatch_is_400_naming_it(body: bytes, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words):
        json_arrays.parse_json_array(body, SPEC)


def test_rows_holding_arrays_never_pass_for_a_rectangle() -> None:
    # Every row has 2 elements and there are 4 numbers, as in [[1, 2], [3, 4]]; simdjson's
    # as_buffer would flatten it to that. The "]" count tells the rows held arrays.
    spec = ArraySpec("data", np.dtype("float64"), (None, 2))
    body = b"[[1, []], [2, [3, 4]]]"
    assert json_arrays._simdjson_array(body, spec) is None
    with pytest.raises(InvalidInputError, match="data"):
        json_arrays.parse_json_array(body, spec)


def test_an_empty_row_among_one_number_rows_is_400_not_500() -> None:
    # "[]" and "[1]" have the same brackets; the whole-document path (any shape) once took the
    # first for the second and failed reshaping (found by the property test below).
    spec = ArraySpec("data", np.dtype("float64"))
    body = b'{"data": [[-5e-324], [0],[], [1.5]]}'
    assert json_arrays._simdjson_array(body, spec) is None
    with pytest.raises(InvalidInputError, match="different lengths"):
        json_arrays.parse_json_array(body, spec)


def test_a_bytearray_body_parses_like_bytes() -> None:
    # The server hands large /score bodies over as the bytearray it read them into.
    body = b'{"data": [[1, 2, 3], [4, 5, 6.5]]}'
    fast = json_arrays.parse_json_array(bytearray(body), SPEC)
    assert fast.tolist() == json_arrays.parse_json_array(body, SPEC).tolist()
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    for raw in (npy(x), bytearray(npy(x))):
        got = npy_arrays.parse_npy(raw, SPEC)
        assert np.array_equal(got, x) and got.flags.writeable
    fortran = np.asfortranarray(x)
    assert np.array_equal(npy_arrays.parse_npy(bytearray(npy(fortran)), SPEC), x)
    with pytest.raises(InvalidInputError, match=r"not a valid \.npy array"):
        npy_arrays.parse_npy(bytearray(npy(x))[:-1], SPEC)


def test_typed_json_dtype_rules() -> None:
    ints = ArraySpec("data", np.dtype("int32"), (None, 2))
    assert json_arrays.parse_json_array(b"[[1, -2]]", ints).dtype == np.int32
    with pytest.raises(InvalidInputError, match="must hold int32 values, got float64"):
        json_arrays.parse_json_array(b"[[1.5, 2]]", ints)
    with pytest.raises(InvalidInputError, match="out of range"):
        json_arrays.parse_json_array(b"[[3000000000, 2]]", ints)
    # What simdjson refuses still parses, through the generic path (NaN is what json.dumps writes).
    nan = json_arrays.parse_json_array(b'{"data": [[NaN, 1e400, 2]]}', SPEC)
    assert np.isnan(nan[0, 0]) and np.isinf(nan[0, 1])


rows = st.integers(1, 6).flatmap(
    lambda m: st.lists(
        st.lists(
            st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**53), 2**53)),
            min_size=m,
            max_size=m,
        ),
        min_size=1,
        max_size=8,
    )
)


@settings(max_examples=150, deadline=None)
@given(rows, st.sampled_from([{}, {"indent": 1}, {"separators": (",", ":")}]), st.booleans())
def test_fast_path_agrees_with_numpy(data: list[list[float]], style: dict, wrap: bool) -> None:
    body = json.dumps({"data": data} if wrap else data, **style).encode()
    spec = ArraySpec("data", np.dtype("float64"), (None, len(data[0])))
    old = json_arrays._CHUNK
    json_arrays._CHUNK = 16  # several chunks even for tiny bodies
    try:
        fast = json_arrays.fast_json_array(body, spec)
    finally:
        json_arrays._CHUNK = old
    assert fast is not None
    assert np.array_equal(fast, np.asarray(data, dtype=np.float64))


@settings(max_examples=150, deadline=None)
@given(
    rows,
    st.integers(0, 10_000),
    st.sampled_from([b"", b"]", b"[", b",", b"x", b'"', b"1", b"{", b"[]", b",[]", b"[1]"]),
)
def test_fast_path_never_accepts_what_json_refuses(data: list[list[float]], where: int, junk: bytes) -> None:
    body = bytearray(json.dumps({"data": data}).encode())
    at = where % (len(body) + 1)
    body[at:at] = junk
    for shape in ((None, len(data[0])), None):  # row by row; any shape (the whole document)
        fast = json_arrays._simdjson_array(bytes(body), ArraySpec("data", np.dtype("float64"), shape))
        if fast is not None:  # then it is valid JSON, and this is its array
            expected = np.asarray(json.loads(bytes(body))["data"], dtype=np.float64)
            assert fast.shape == expected.shape and np.array_equal(fast, expected)


def test_npy_uint8_and_float_cast_to_the_declared_dtype() -> None:
    x = np.arange(6, dtype=np.uint8).reshape(2, 3)
    got = npy_arrays.parse_npy(npy(x), SPEC)
    assert got.dtype == np.float64 and got.tolist() == x.tolist()
    f32 = npy_arrays.parse_npy(npy(x.astype(np.float32)), SPEC)
    assert f32.dtype == np.float64
    big_endian = npy_arrays.parse_npy(npy(x.astype(">f8")), SPEC)
    assert big_endian.dtype == np.float64 and big_endian.tolist() == x.tolist()
    with pytest.raises(InvalidInputError, match="dimension 1 is 4"):
        npy_arrays.parse_npy(npy(np.zeros((2, 4))), SPEC)
    with pytest.raises(InvalidInputError, match="got <U1"):
        npy_arrays.parse_npy(npy(np.array([["a", "b", "c"]])), SPEC)
    with pytest.raises(InvalidInputError, match="no numpy header"):
        npy_arrays.parse_npy(b'{"data": [[1, 2, 3]]}', SPEC)


class _Boom:
    """Unpickling this would create a file: the server must never unpickle a body."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path(self.path).touch, ())


def test_npy_with_pickle_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    body = npy(np.array([[_Boom(str(marker)), 1, 2]], dtype=object), allow_pickle=True)
    assert pickle.loads(pickle.dumps(_Boom(str(tmp_path / "check")))) is None  # the trap works
    assert (tmp_path / "check").exists()
    with pytest.raises(InvalidInputError, match="pickled"):
        npy_arrays.parse_npy(body, SPEC)
    assert not marker.exists()
