"""Array services from the SDK: batching settings on the v1 configurations, run(ndarray) as npy."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice, AksWebservice, LocalWebservice
from modelport.deploy import bundle, records, workers
from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.spec import DeploymentSpec
from modelport.environments import EnvSpec
from modelport.errors import DeploymentError, InvalidInputError
from modelport.workspace import Workspace
from tests.fixtures import SCRIPTS


# -- configurations (no processes) --------------------------------------------------------------------
def test_batching_settings_on_every_configuration() -> None:
    aci = AciWebservice.deploy_configuration(cpu_cores=1, max_batch_size=64, max_batch_latency_ms=2)
    assert (aci.max_batch_size, aci.max_batch_latency_ms) == (64, 2.0)
    aks = AksWebservice.deploy_configuration(num_replicas=1, max_batch_size=8)
    assert (aks.max_batch_size, aks.max_batch_latency_ms) == (8, None)
    local = LocalWebservice.deploy_configuration(port=None, max_batch_size=16, max_batch_latency_ms=0)
    assert (local.max_batch_size, local.max_batch_latency_ms) == (16, 0.0)
    assert AciWebservice.deploy_configuration().max_batch_size is None
    again = DeploymentSettings.from_dict(json.loads(json.dumps(aci.to_dict())))
    assert again.max_batch_size == 64


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"max_batch_size": 0}, "max_batch_size must be a positive integer"),
        ({"max_batch_size": "8"}, "max_batch_size must be a positive integer"),
        ({"max_batch_size": 2.5}, "max_batch_size must be a positive integer"),
        ({"max_batch_latency_ms": 5}, "needs max_batch_size"),
        ({"max_batch_size": 8, "max_batch_latency_ms": -1}, "from 0 to 10000"),
        ({"max_batch_size": 8, "max_batch_latency_ms": True}, "from 0 to 10000"),
    ],
)
def test_bad_batching_settings_are_refused(kwargs: dict, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words):
        AciWebservice.deploy_configuration(**kwargs)
    with pytest.raises(InvalidInputError, match=words):
        LocalWebservice.deploy_configuration(**kwargs)


def _server(settings: DeploymentSettings, tmp_path: Path, frameworks: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    """The server settings a forking target (local, an image) runs a deployment with."""
    spec = DeploymentSpec(models=("m:1",), entry_script=str(tmp_path / "score.py"), settings=settings)
    server = bundle.deployment_server_settings(
        "svc", spec, [], app_root=tmp_path, model_dir=tmp_path, source=None, script=tmp_path / "score.py"
    )
    prepared = bundle.ServiceBundle(tmp_path, "svc", "d1", sys.executable, spec, frameworks=frameworks)
    return workers.forked(server, prepared)


def test_server_config_passes_batching_and_preload(tmp_path: Path) -> None:
    settings = AciWebservice.deploy_configuration(max_batch_size=32, max_batch_latency_ms=3)
    config = _server(settings, tmp_path, frameworks=("ScikitLearn",))
    assert config.max_batch_size == 32 and config.max_batch_latency_ms == 3.0
    assert config.preload_modules == ["sklearn", "joblib"]
    plain = _server(AciWebservice.deploy_configuration(), tmp_path)
    assert "max_batch_size" not in plain.to_dict() and plain.preload_modules is None
    from modelport.server.config import ServerConfig

    ServerConfig.from_mapping(config.to_dict())  # the server takes it


def test_scikit_learn_deployments_preload_it() -> None:
    assert workers.preload_for(("ScikitLearn",), None) == ["sklearn", "joblib"]
    assert workers.preload_for(("",), EnvSpec("e", pip_packages=("scikit-learn==1.5.0", "joblib"))) == [
        "sklearn",
        "joblib",
    ]
    assert workers.preload_for(("",), EnvSpec("e", pip_packages=("torch",))) is None
    assert workers.preload_for(("TensorFlow",), None) is None


# -- real deployments ---------------------------------------------------------------------------------
def _deploy(ws: Workspace, model_file: Path, tmp_path: Path, name: str, script: str, settings) -> object:  # type: ignore[no-untyped-def]
    src = tmp_path / f"src-{name}"
    src.mkdir()
    shutil.copy(SCRIPTS / script, src / "score.py")
    model = Model.register(ws, model_file, "sklearn_mnist")
    return Model.deploy(ws, name, [model], InferenceConfig("score.py", source_directory=src), settings)


@pytest.mark.process
def test_sdk_run_sends_an_ndarray_as_npy_to_an_array_service_and_as_json_to_a_plain_one(
    dws: Workspace, digits_model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    images = np.arange(8, dtype=np.uint8).reshape(2, 2, 2)
    arrays = _deploy(dws, digits_model[0], tmp_path, "array-svc", "array_dtype.py", None)
    plain = _deploy(dws, digits_model[0], tmp_path, "plain-svc", "plain_echo.py", None)
    arrays.wait_for_deployment()  # type: ignore[attr-defined]
    plain.wait_for_deployment()  # type: ignore[attr-defined]
    got = arrays.run(images)  # type: ignore[attr-defined]
    assert got["content_type"] == "application/x-npy"
    assert (got["dtype"], got["shape"], got["sum"]) == ("uint8", [2, 2, 2], 28)
    assert arrays.run(json.dumps({"data": images.tolist()}))["content_type"] == "application/json"  # type: ignore[attr-defined]
    echoed = plain.run(images)  # type: ignore[attr-defined]
    assert echoed == {"echo": {"data": images.tolist()}, "type": "str"}


@pytest.mark.process
def test_batching_deploys_for_an_array_script_and_is_refused_for_a_plain_one(
    dws: Workspace, digits_model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = LocalWebservice.deploy_configuration(max_batch_size=16, max_batch_latency_ms=5)
    batched = _deploy(dws, digits_model[0], tmp_path, "batched-svc", "array_rows.py", settings)
    batched.wait_for_deployment()  # type: ignore[attr-defined]
    record = records.load(dws, "batched-svc")
    assert json.loads((Path(record.bundle_dir or "") / "server.json").read_text())["max_batch_size"] == 16
    assert batched.run(np.ones((2, 3))) == [[3.0, 2], [3.0, 2]]  # type: ignore[attr-defined]
    refused = _deploy(dws, digits_model[0], tmp_path, "refused-svc", "plain_echo.py", settings)
    with pytest.raises(DeploymentError, match="max_batch_size is set"):
        refused.wait_for_deployment(timeout_sec=60)  # type: ignore[attr-defined]
