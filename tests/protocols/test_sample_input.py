"""In process: the sample input file in the app root (what ``prepare()`` writes for
``InferenceConfig(sample_input=...)``) as the example of swagger.json and the V2 metadata's inputs,
and what a script's own declarations keep."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from modelport.deploy.bundle import SAMPLE_INPUT_FILE as WRITTEN
from modelport.protocols.swagger import SAMPLE_INPUT_FILE as READ
from tests.protocols import test_v2
from tests.protocols.test_v2 import SCRIPTS, TUTORIAL

app = test_v2.app  # the fixtures: a started in-process app's client, the digits model
digits = test_v2.digits


def _app_root(tmp_path: Path, script: Path, sample: Any) -> Path:
    root = tmp_path / script.stem
    root.mkdir()
    shutil.copy(script, root / "score.py")
    if sample is not None:
        (root / READ).write_text(sample if isinstance(sample, str) else json.dumps(sample))
    return root / "score.py"


def _input(client: Any, version: str) -> dict[str, Any]:
    doc = client.get(f"/swagger.json?version={version}").json()
    validate(doc)
    found: dict[str, Any] = (doc.get("definitions") or doc["components"]["schemas"])["ServiceInput"]
    return found


def test_the_bundle_writes_the_file_the_server_reads() -> None:
    assert WRITTEN == READ


def test_a_plain_run_with_a_sample_lists_its_inputs_and_shows_the_example(
    app: Callable[..., Any],
    digits: tuple[Path, Any, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model_dir, _, images = digits
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
    sample = {"data": images[:2].tolist(), "note": "two rows"}
    client = app(_app_root(tmp_path, TUTORIAL, sample), model_dir=str(model_dir), service_name="mnist")
    assert client.get("/v2/models/mnist").json()["inputs"] == [
        {"name": "data", "datatype": "FP64", "shape": [-1, 64]},
        {"name": "note", "datatype": "BYTES", "shape": [-1]},
    ]
    for version in ("2", "3.1"):
        schema = _input(client, version)
        assert schema["example"] == sample and schema["properties"]["note"] == {"type": "string"}
    doc = client.get("/swagger.json?version=3").json()
    v2 = doc["paths"]["/v2/models/{model_name}/infer"]["post"]["requestBody"]["content"]
    assert [(t["name"], t["shape"]) for t in v2["application/json"]["example"]["inputs"]] == [
        ("data", [2, 64]),
        ("note", [1]),
    ]


def test_without_a_sample_or_with_a_damaged_one_nothing_is_declared(
    app: Callable[..., Any],
    digits: tuple[Path, Any, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    model_dir = digits[0]
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
    for sample in (None, "{not json", "[1, 2]"):
        root = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        root.mkdir()
        client = app(_app_root(root, TUTORIAL, sample), model_dir=str(model_dir), service_name="mnist")
        with caplog.at_level(logging.WARNING, logger="modelport.server"):
            assert client.get("/v2/models/mnist").json()["inputs"] == []  # a list body maps to no tensor
            schema = _input(client, "2")
        if sample == "[1, 2]":
            assert schema["example"] == [1, 2]  # still the /score example
        else:
            assert "example" not in schema
        if sample == "{not json":
            assert "ignoring the sample input" in caplog.text


def test_a_script_s_own_declarations_win(app: Callable[..., Any], tmp_path: Path) -> None:
    # inference-schema's sample stays the example and the metadata's source.
    client = app(_app_root(tmp_path, SCRIPTS / "schema_two.py", {"data": [[9.0, 9.0]], "scale": 3.0}))
    assert _input(client, "2")["example"] == {"data": [[1.0, 2.0]], "scale": 1.0}
    assert sorted(i["name"] for i in client.get("/v2/models/modelport").json()["inputs"]) == ["data", "scale"]
    # An array input keeps its declared shape and dtype; the sample gives the example values.
    client = app(_app_root(tmp_path, SCRIPTS / "array_sum.py", {"data": [[1.0, 2.0, 3.0]]}))
    assert _input(client, "2")["example"] == {"data": [[1.0, 2.0, 3.0]]}
    assert client.get("/v2/models/modelport").json()["inputs"] == [
        {"name": "data", "datatype": "FP64", "shape": [-1, 3]}
    ]
    doc = client.get("/swagger.json?version=3").json()
    v2 = doc["paths"]["/v2/models/{model_name}/infer"]["post"]["requestBody"]["content"]
    assert v2["application/json"]["example"]["inputs"][0]["data"] == [1.0, 2.0, 3.0]
