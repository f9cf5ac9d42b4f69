"""The v1 protocol: decoding requests into run()'s arguments, encoding, error bodies, routes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.errors import PayloadTooLarge, ScriptError
from modelport.protocols import Route, Router
from modelport.protocols.v1 import V1Codec, error_value
from modelport.runtime import ScoringRequest, ScoringScript
from tests.fixtures import location as _location

CODEC = V1Codec()


def test_script_named_like_a_stdlib_module_does_not_shadow_it(tmp_path: Path) -> None:
    path = tmp_path / "json.py"
    path.write_text("def run(raw_data):\n    return raw_data[::-1]\n")
    loaded = ScoringScript.load(_location(path))
    assert loaded.module.__name__ != "json"
    assert json.dumps([1]) == "[1]"
    assert (
        json.loads(CODEC.score(loaded, ScoringRequest("POST", "/score", body=b"abc")).response.body) == "cba"
    )


def test_helper_modules_next_to_the_script_are_importable(tmp_path: Path) -> None:
    (tmp_path / "helper_mod_for_test.py").write_text("VALUE = 41\n")
    path = tmp_path / "uses_helper.py"
    path.write_text("import helper_mod_for_test\ndef run(d):\n    return helper_mod_for_test.VALUE + 1\n")
    loaded = ScoringScript.load(_location(path))
    assert CODEC.score(loaded, ScoringRequest("POST", "/score", body=b"")).response.body == b"42"


def test_schema_script_accepts_nan_like_json_dumps_writes(tmp_path: Path) -> None:
    path = tmp_path / "nan_schema.py"
    path.write_text(
        "import numpy as np\n"
        "from inference_schema.schema_decorators import input_schema\n"
        "from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType\n"
        "@input_schema('data', NumpyParameterType(np.array([1.0, 2.0])))\n"
        "def run(data):\n    return int(np.isnan(data).sum())\n"
    )
    loaded = ScoringScript.load(_location(path))
    body = json.dumps({"data": [float("nan"), 1.0]}).encode()
    assert CODEC.score(loaded, ScoringRequest("POST", "/score", body=body)).response.body == b"1"


def test_error_body_names_the_error_class() -> None:
    assert error_value(PayloadTooLarge("too big")) == {"message": "too big", "code": "PayloadTooLarge"}
    failed = ScriptError("run", "ValueError", "bad pixel", "Traceback ...")
    assert error_value(failed) == {"message": "ValueError: bad pixel", "code": "ScriptError"}
    assert error_value(failed, debug=True)["traceback"] == "Traceback ..."
    assert error_value(None)["code"] == "ModelportError"


async def _handler(call: object) -> object:
    return call


def test_router_exact_paths_are_a_dict_and_patterns_match_segments() -> None:
    router = Router()
    owner: object = object()
    router.add(Route("/score", ("POST",), True, _handler), owner)  # type: ignore[arg-type]
    router.add(Route("/v2/models/{name}/infer", ("POST",), True, _handler), owner)  # type: ignore[arg-type]
    assert "/score" in router.exact and len(router.patterns) == 1
    entry, params = router.match_pattern("/v2/models/mnist/infer")
    assert entry is not None and params == {"name": "mnist"}
    assert router.match_pattern("/v2/models/a/b/infer") == (None, None)
    assert router.match_pattern("/v2/models/mnist/infer/x") == (None, None)
    with pytest.raises(ValueError, match="twice"):
        router.add(Route("/score", ("GET",), True, _handler), owner)  # type: ignore[arg-type]
    assert Route("/v2/models/{name}/versions/{version}", ("GET",), False, _handler).match(
        "/v2/models/m.1/versions/3"
    ) == {"name": "m.1", "version": "3"}
