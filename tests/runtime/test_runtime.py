"""The runtime without a server: model paths, script loading, v1 request/response objects, encoding."""

from __future__ import annotations

import decimal
import json
from pathlib import Path

import numpy as np
import pytest

from modelport.contrib.services import AMLRequest, AMLResponse, rawhttp
from modelport.errors import InvalidInputError, ModelNotFound, ScriptError, UnsupportedMediaType
from modelport.runtime import (
    Headers,
    ScoringRequest,
    ScoringScript,
    default_model_dir,
    encode_result,
    get_model_path,
)
from tests.fixtures import location


@pytest.fixture
def app_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    models = tmp_path / "azureml-models"
    (models / "single" / "1").mkdir(parents=True)
    (models / "single" / "1" / "model.pkl").write_bytes(b"1")
    for v in (2, 10):
        (models / "single" / str(v)).mkdir()
        (models / "single" / str(v) / "model.pkl").write_bytes(b"v")
    (models / "multi" / "3").mkdir(parents=True)
    (models / "multi" / "3" / "a.bin").write_bytes(b"a")
    (models / "multi" / "3" / "b.bin").write_bytes(b"b")
    (models / "multi" / "3" / ".DS_Store").write_bytes(b"")
    monkeypatch.setenv("AML_APP_ROOT", str(tmp_path))
    return tmp_path


def test_get_model_path_latest_and_given_version(app_root: Path) -> None:
    models = app_root / "azureml-models"
    assert get_model_path("single") == str(models / "single" / "10" / "model.pkl")  # 10 > 2 as numbers
    assert get_model_path("single", version=1) == str(models / "single" / "1" / "model.pkl")
    assert get_model_path("multi") == str(models / "multi" / "3")  # several files: the folder


def test_get_model_path_not_found(app_root: Path) -> None:
    with pytest.raises(ModelNotFound, match="'nothing' not found"):
        get_model_path("nothing")
    with pytest.raises(ModelNotFound, match=r"no version 4 \(deployed versions: 1, 2, 10\)"):
        get_model_path("single", 4)


def test_default_model_dir(app_root: Path, tmp_path: Path) -> None:
    assert default_model_dir(app_root) == app_root / "azureml-models"  # two models
    empty = tmp_path / "other"
    empty.mkdir()
    assert default_model_dir(empty) is None
    (empty / "azureml-models" / "m" / "7").mkdir(parents=True)
    assert default_model_dir(empty) == empty / "azureml-models" / "m" / "7"


def _request(**kw) -> ScoringRequest:
    base = {
        "method": "POST",
        "path": "/score",
        "query_string": b"a=1&a=2&b=x",
        "raw_headers": [(b"content-type", b"application/json; charset=utf-8"), (b"host", b"h:5001")],
        "body": b'{"k": [1, 2]}',
        "client": ("10.0.0.9", 5555),
    }
    return ScoringRequest(**{**base, **kw})


def test_aml_request_behaves_like_werkzeug() -> None:
    req = AMLRequest(_request())
    assert req.method == "POST"
    assert req.headers["Content-Type"] == req.headers.get("content-type") == "application/json; charset=utf-8"
    assert req.mimetype == "application/json" and req.is_json
    assert req.args["a"] == "1" and req.args.getlist("a") == ["1", "2"] and req.args.get("b") == "x"
    assert req.args.get("a", type=int) == 1 and req.args.get("b", default=0, type=int) == 0
    assert req.get_data() == req.data == b'{"k": [1, 2]}'
    assert req.get_data(as_text=True) == '{"k": [1, 2]}'
    assert req.json == req.get_json() == {"k": [1, 2]}
    assert req.full_path == "/score?a=1&a=2&b=x"
    assert req.url == "http://h:5001/score?a=1&a=2&b=x"
    assert req.remote_addr == "10.0.0.9"
    assert req.content_length == 13
    assert req.stream.read() == req.data


def test_aml_request_json_errors() -> None:
    text = AMLRequest(_request(raw_headers=[(b"content-type", b"text/plain")], body=b"hello"))
    assert text.get_json(silent=True) is None
    with pytest.raises(UnsupportedMediaType):
        text.get_json()
    broken = AMLRequest(_request(body=b"{nope"))
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        broken.get_json()
    assert AMLRequest(_request(raw_headers=[], body=b"[1]")).get_json(force=True) == [1]


def test_aml_response_bodies_and_headers() -> None:
    r = AMLResponse({"a": 1}, 201, {"X-A": "b"}, json_str=True)
    assert (r.status_code, r.data, r.content_type, r.headers["X-A"]) == (
        201,
        b'{"a":1}',
        "application/json",
        "b",
    )
    assert AMLResponse("text", 200).content_type.startswith("text/plain")
    assert AMLResponse(b"\x00", 200).content_type == "application/octet-stream"
    assert AMLResponse("x", 200, response_headers={"Content-Type": "text/csv"}).content_type == "text/csv"
    with pytest.raises(ValueError, match="status_code"):
        AMLResponse("x", 99)


def test_rawhttp_marks_the_function() -> None:
    @rawhttp
    def run(request):
        return request

    assert run.__modelport_rawhttp__ is True


def test_encode_result_handles_numpy_pandas_and_more() -> None:
    import pandas as pd

    value = {
        "arr": np.array([[1.5, 2.5]]),
        "i": np.int32(3),
        "nonc": np.arange(6).reshape(2, 3).T,
        "obj": np.array([1, "a"], dtype=object),
        "df": pd.DataFrame({"x": [1, 2]}),
        "s": pd.Series([1.0]),
        "set": {1},
        "dec": decimal.Decimal("1.5"),
        1: "int key",
    }
    out = json.loads(encode_result(value).body)
    assert out["arr"] == [[1.5, 2.5]] and out["i"] == 3 and out["nonc"] == [[0, 3], [1, 4], [2, 5]]
    assert out["obj"] == [1, "a"] and out["df"] == [{"x": 1}, {"x": 2}] and out["s"] == [1.0]
    assert out["set"] == [1] and out["dec"] == 1.5 and out["1"] == "int key"
    assert encode_result("plain").body == b'"plain"'  # v1: json.dumps of a str
    assert encode_result(None).body == b"null"
    raw = encode_result(b"\x01\x02")
    assert (raw.body, raw.content_type) == (b"\x01\x02", "application/octet-stream")
    with pytest.raises(TypeError):
        encode_result(object())


def test_headers_dict_is_case_insensitive_and_folds_repeats() -> None:
    h = Headers([(b"x-a", b"1"), (b"X-A", b"2"), (b"content-type", b"t")])
    assert h["x-a"] == h["X-A"] == "1, 2"
    assert "CONTENT-TYPE" in h and dict(h) == {"X-A": "1, 2", "Content-Type": "t"}


@pytest.mark.parametrize(
    ("source", "phase", "words"),
    [
        ("def run(:\n", "load", ["SyntaxError"]),
        (
            "import no_such_module_xyz\ndef run(d): pass\n",
            "load",
            ["ModuleNotFoundError", "no_such_module_xyz"],
        ),
        ("def init(): pass\n", "load", ["defines no run()"]),
    ],
)
def test_broken_scripts_raise_script_error(tmp_path: Path, source: str, phase: str, words: list[str]) -> None:
    path = tmp_path / "broken_script.py"
    path.write_text(source)
    with pytest.raises(ScriptError) as info:
        ScoringScript.load(location(path))
    assert info.value.phase == phase
    text = str(info.value) + info.value.traceback_text
    for word in words:
        assert word in text
