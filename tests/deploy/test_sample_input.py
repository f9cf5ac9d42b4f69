"""A sample input for a plain run() (no inference-schema decorators): given at deployment
(``InferenceConfig(sample_input=...)``, ``modelport deploy --sample-input``) or by the model
(``Model.register(..., sample_input_dataset=...)``), it is the example everywhere one is shown:
V2 model metadata, ``/swagger.json`` (and so ``/swagger``), the studio's Test tab."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from openapi_spec_validator import validate

from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import LocalWebservice
from modelport.errors import InvalidInputError
from modelport.workspace import Workspace

from .conftest import TUTORIAL_SCORE

Digits = tuple[Path, np.ndarray, np.ndarray]


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    shutil.copy(TUTORIAL_SCORE, src / "score.py")
    return src


def _base(service: Any) -> str:
    return str(service.scoring_uri).rsplit("/score", 1)[0]


def _swagger(base: str, version: str) -> dict[str, Any]:
    doc: dict[str, Any] = requests.get(f"{base}/swagger.json?version={version}", timeout=30).json()
    return doc


def _service_input(doc: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = (doc.get("definitions") or doc["components"]["schemas"])["ServiceInput"]
    return found


# -- in process: the keyword ------------------------------------------------------------------
def test_sample_input_takes_a_body_json_text_or_a_file(tmp_path: Path) -> None:
    src = _source(tmp_path)
    row = np.linspace(0, 1, 4)
    given = InferenceConfig("score.py", source_directory=src, sample_input={"data": [row]})
    assert given.sample_input == {"data": [[0.0, 1 / 3, 2 / 3, 1.0]]}  # numpy made JSON
    assert given.serialize()["sampleInput"] == given.sample_input
    text = InferenceConfig("score.py", source_directory=src, sample_input='{"data": [[1, 2]]}')
    assert text.sample_input == {"data": [[1, 2]]}
    (tmp_path / "sample.json").write_text(json.dumps({"data": [[3, 4]]}))
    from_file = InferenceConfig("score.py", source_directory=src, sample_input=tmp_path / "sample.json")
    assert from_file.sample_input == {"data": [[3, 4]]}
    plain = InferenceConfig("score.py", source_directory=src)
    assert plain.sample_input is None and "sampleInput" not in plain.serialize()


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        (42, "must be the body a client sends to /score, a dict or list"),
        ("missing.json", "file 'missing.json' not found"),
        ('{"data": [1,', "is not valid JSON"),
        ({"data": [float("nan")]}, "is not JSON data"),
        ({"data": object()}, "is not JSON data"),
        ({"data": [[0.5] * 300_000]}, "an example of a row or a few is enough"),
    ],
)
def test_a_bad_sample_input_is_one_clear_line(tmp_path: Path, sample: Any, message: str) -> None:
    src = _source(tmp_path)
    with pytest.raises(InvalidInputError, match="InferenceConfig: sample_input") as caught:
        InferenceConfig("score.py", source_directory=src, sample_input=sample)
    assert message in caught.value.message and "\n" not in caught.value.message


def test_a_recorded_inference_config_keeps_its_sample(tmp_path: Path) -> None:
    from modelport.deploy.engine import recorded_inference_config
    from modelport.deploy.records import ServiceRecord

    config = InferenceConfig("score.py", source_directory=_source(tmp_path), sample_input={"data": [[1]]})
    record = ServiceRecord(name="svc", target="local", compute_type="Local", deployer={}, models=[])
    record.inference_config = config.serialize()
    assert recorded_inference_config(record).sample_input == {"data": [[1]]}


# -- real services ---------------------------------------------------------------------------
@pytest.mark.process
def test_plain_run_deployed_with_a_sample_shows_it_everywhere(
    dws: Workspace, digits_model: Digits, tmp_path: Path
) -> None:
    path, test_x, expected = digits_model
    model = Model.register(dws, path, "sklearn_mnist")
    sample = {"data": test_x[:1].tolist()}
    config = InferenceConfig("score.py", source_directory=_source(tmp_path), sample_input=sample)
    service = Model.deploy(dws, "sample-svc", [model], config, LocalWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=300)
    base = _base(service)

    # V2 model metadata: the sample's key, its datatype, its shape with a variable first dimension.
    meta = requests.get(f"{base}/v2/models/sample-svc", timeout=30).json()
    assert meta["inputs"] == [{"name": "data", "datatype": "FP64", "shape": [-1, 64]}]
    assert requests.get(f"{base}/v2/models/sklearn_mnist", timeout=30).json()["inputs"] == meta["inputs"]

    # swagger.json, both versions: the example for /score, and a V2 request made of it.
    for version in ("2", "3"):
        doc = _swagger(base, version)
        validate(doc)
        service_input = _service_input(doc)
        assert service_input["example"] == sample and service_input["x-modelport-example"] == "sample"
        assert service_input["properties"]["data"]["items"]["items"]["type"] == "number"
    v2_example = _swagger(base, "3")["paths"]["/v2/models/{model_name}/infer"]["post"]["requestBody"]
    v2_body = v2_example["content"]["application/json"]["example"]
    assert v2_body["inputs"][0]["name"] == "data" and v2_body["inputs"][0]["shape"] == [1, 64]

    # The examples are bodies the service takes: the prediction for the sample's row.
    assert requests.post(str(service.scoring_uri), json=sample, timeout=30).json() == expected[:1].tolist()
    infer = requests.post(f"{base}/v2/models/sample-svc/infer", json=v2_body, timeout=30)
    assert infer.status_code == 200 and infer.json()["outputs"][0]["data"] == expected[:1].tolist()

    # The studio's Test tab starts from it (its view over the service's own swagger).
    from modelport.studio.views import example_input

    assert example_input(_swagger(base, "2")) == {
        "example": sample,
        "declared": True,
        "source": "sample",
        "canvas": False,
    }

    # A redeployment from the record (new models, same inference config) keeps the sample.
    service.update(models=[model])
    service.wait_for_deployment(timeout_sec=300)
    assert requests.get(f"{base}/v2/models/sample-svc", timeout=30).json()["inputs"] == meta["inputs"]


@pytest.mark.process
def test_plain_run_without_a_sample_declares_nothing_as_before(
    dws: Workspace, digits_model: Digits, tmp_path: Path
) -> None:
    model = Model.register(dws, digits_model[0], "sklearn_mnist")
    config = InferenceConfig("score.py", source_directory=_source(tmp_path))
    service = Model.deploy(dws, "plain-svc", [model], config, LocalWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=300)
    base = _base(service)
    assert requests.get(f"{base}/v2/models/plain-svc", timeout=30).json()["inputs"] == []
    service_input = _service_input(_swagger(base, "2"))
    assert "example" not in service_input and "properties" not in service_input
    assert not (Path(str(service._record.bundle_dir)) / "app" / "modelport-sample-input.json").exists()


@pytest.mark.process
def test_a_model_registered_with_a_sample_input_dataset_gives_the_example(
    dws: Workspace, digits_model: Digits, tmp_path: Path
) -> None:
    import pandas as pd

    from modelport.core.dataset import Dataset

    path, test_x, expected = digits_model
    csv = tmp_path / "features.csv"
    pd.DataFrame(test_x[:5], columns=[f"pixel{i}" for i in range(64)]).to_csv(csv, index=False)
    features = Dataset.Tabular.from_delimited_files(path=str(csv))
    model = Model.register(dws, path, "sklearn_mnist", sample_input_dataset=features)
    config = InferenceConfig("score.py", source_directory=_source(tmp_path))
    service = Model.deploy(dws, "dataset-svc", [model], config, LocalWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=300)
    assert config.sample_input is None  # the caller's config is left as it was
    base = _base(service)
    example = _service_input(_swagger(base, "3"))["example"]
    assert np.allclose(example["data"], test_x[:1]) and len(example["data"]) == 1
    meta = requests.get(f"{base}/v2/models/dataset-svc", timeout=30).json()
    assert meta["inputs"] == [{"name": "data", "datatype": "FP64", "shape": [-1, 64]}]
    assert requests.post(str(service.scoring_uri), json=example, timeout=30).json() == expected[:1].tolist()

    # A sample given in the inference config wins over the model's.
    from modelport.core.model import _with_model_sample

    own = InferenceConfig("score.py", source_directory=_source(tmp_path), sample_input={"data": [[0] * 64]})
    assert _with_model_sample(own, [model]) is own
    derived = _with_model_sample(config, [model])
    assert derived is not config and derived.sample_input == example


@pytest.mark.process
def test_cli_deploy_takes_a_sample_input_file(tmp_path: Path, digits_model: Digits, env_cache: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(TUTORIAL_SCORE, proj / "score.py")
    sample = {"data": digits_model[1][:1].tolist()}
    (proj / "sample.json").write_text(json.dumps(sample))
    exe = str(Path(sys.executable).with_name("modelport"))
    env = dict(os.environ, MODELPORT_HOME=str(tmp_path / "home"), MODELPORT_ENV_CACHE=str(env_cache))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], cwd=proj, env=env, capture_output=True, text=True, timeout=300)

    try:
        assert cli("workspace", "create", "cliws", "--write-config", ".").returncode == 0
        assert cli("model", "register", "-n", "sklearn_mnist", "-p", str(digits_model[0])).returncode == 0
        bad = cli("deploy", "bad-svc", "--model", "sklearn_mnist", "--entry-script", "score.py",
                  "--sample-input", "nope.json")  # fmt: skip
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "sample_input file" in bad.stderr
        r = cli("deploy", "cli-svc", "--model", "sklearn_mnist", "--entry-script", "score.py",
                "--sample-input", "sample.json", "--json")  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        base = json.loads(r.stdout)["scoringUri"].rsplit("/score", 1)[0]
        assert _service_input(_swagger(base, "2"))["example"] == sample
        meta = requests.get(f"{base}/v2/models/cli-svc", timeout=30).json()
        assert meta["inputs"] == [{"name": "data", "datatype": "FP64", "shape": [-1, 64]}]
    finally:
        cli("service", "delete", "cli-svc")
