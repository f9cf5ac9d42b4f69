"""Array inputs: typed JSON parsed straight to numpy, application/x-npy, and the fast json.loads."""

from __future__ import annotations

import io

import numpy as np
import pytest

from modelport.errors import InvalidInputError

NPY = "application/x-npy"


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=allow_pickle)
    return out.getvalue()


# -- in process: the server ------------------------------------------------------------------------
def test_typed_json_and_npy_through_the_app(make_app) -> None:
    app = make_app("array_rows.py")
    r = app.client.post("/score", json={"data": [[1, 2, 3], [4, 5, 6]]})
    assert r.status_code == 200, r.text
    assert r.json() == [[6.0, 2], [15.0, 2]]
    r = app.client.post("/score", content=npy(np.ones((1, 3), np.uint8)), headers={"content-type": NPY})
    assert r.status_code == 200, r.text
    assert r.json() == [[3.0, 1]]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b'{"data": [[1, 2]]}', "application/json", 400, "dimension 1 is 2, not 3"),
        (b'{"data": [["a", 2, 3]]}', "application/json", 400, "not all numbers"),
        (b"1,2,3", "text/csv", 415, "application/x-npy"),
        (npy(np.zeros((1, 4))), NPY, 400, "dimension 1 is 4"),
        (npy(np.array([[1, 2, 3]], dtype=object), allow_pickle=True), NPY, 400, "pickled"),
        (b"not npy", NPY, 400, "no numpy header"),
    ],
)
def test_array_mismatch_answers_4xx_naming_it(make_app, body, content_type, status, words) -> None:
    app = make_app("array_rows.py")
    r = app.client.post("/score", content=body, headers={"content-type": content_type})
    assert r.status_code == status, r.text
    assert words in r.json()["message"]


def test_npy_uint8_and_float_reach_a_uint8_script(make_app) -> None:
    app = make_app("array_dtype.py")
    images = np.arange(8, dtype=np.uint8).reshape(2, 2, 2)
    r = app.client.post("/score", content=npy(images), headers={"content-type": NPY})
    assert r.json() == {
        "dtype": "uint8",
        "shape": [2, 2, 2],
        "sum": 28,
        "writeable": True,
        "content_type": NPY,
    }
    r = app.client.post("/score", content=npy(images.astype(np.float32)), headers={"content-type": NPY})
    assert r.status_code == 400 and "must hold uint8 values, got float32" in r.json()["message"]
    r = app.client.post("/score", json={"data": images.tolist()})
    assert r.json()["dtype"] == "uint8" and r.json()["sum"] == 28
    r = app.client.post("/score", json={"data": [[[1, 2], [3, 300]]]})
    assert r.status_code == 400 and "300 is out of range" in r.json()["message"]


def test_schema_script_with_numpy_parameter_takes_npy_and_fast_json(make_app) -> None:
    app = make_app("numpy_schema.py")
    r = app.client.post("/score", content=npy(np.ones((2, 4))), headers={"content-type": NPY})
    assert r.status_code == 200, r.text
    assert r.json() == {"type": "ndarray", "shape": [2, 4], "sum": 8.0}
    r = app.client.post("/score", json={"data": [[1, 2, 3, 4]]})
    assert r.json() == {"type": "ndarray", "shape": [1, 4], "sum": 10.0}
    r = app.client.post("/score", json={"data": [[1, 2, 3, 4]], "scale": 2})  # not only the array
    assert r.json()["sum"] == 20.0


def test_swagger_declares_the_array_input(make_app) -> None:
    app = make_app("array_rows.py")
    for version in ("2", "3"):
        doc = app.client.get(f"/swagger.json?version={version}").json()
        assert doc["x-modelport-array-input"] == {"name": "data", "dtype": "float64", "shape": [None, 3]}
    assert NPY in app.client.get("/swagger.json?version=2").json()["consumes"]
    assert NPY in doc["paths"]["/score"]["post"]["requestBody"]["content"]
    plain = make_app("plain_echo.py").client.get("/swagger.json").json()
    assert "x-modelport-array-input" not in plain


def test_plain_scripts_get_the_fast_json_loads_unless_turned_off(make_app) -> None:
    app = make_app("json_loads_probe.py")
    r = app.client.post("/score", content=b'{"a": [1, 2.5, NaN]}')
    assert r.json()["loads"] == "modelport.runtime.fastjson"
    assert r.json()["value"]["a"][:2] == [1, 2.5]


def test_fast_json_loads_can_be_turned_off(make_app) -> None:
    off = make_app("json_loads_probe.py", fast_json_loads=False)
    assert off.client.post("/score", content=b"[1]").json() == {"loads": "json", "value": [1]}


def test_batching_is_refused_for_a_script_without_array_input(make_app) -> None:
    app = make_app("plain_echo.py", wait=False, max_batch_size=8)
    app.wait_ready()
    assert app.exits and app.exits[0][0] == 3
    assert "max_batch_size" in app.exits[0][1] and "array_input" in app.exits[0][1]


def test_batch_settings_are_validated() -> None:
    from modelport.server.config import ServerConfig

    for bad in ({"max_batch_size": 0}, {"max_batch_size": 2.5}, {"max_batch_latency_ms": -1}):
        with pytest.raises(InvalidInputError, match="max_batch"):
            ServerConfig.from_mapping({"entry_script": "score.py", **bad})
