from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice, AksWebservice, LocalWebservice
from modelport.deploy.records import check_service_name
from modelport.errors import InvalidInputError


def test_aci_defaults_and_effects() -> None:
    c = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1, tags={"data": "MNIST"}, description="d")
    assert (c.compute_type, c.workers, c.memory_gb, c.auth_enabled) == ("ACI", 1, 1.0, False)
    assert c.tags == {"data": "MNIST"} and c.description == "d"
    assert AciWebservice.deploy_configuration(cpu_cores=2).workers == 2
    d = AciWebservice.deploy_configuration()
    assert (d.cpu_cores, d.memory_gb) == (0.1, 0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cpu_cores": 0}, "cpu_cores must be a positive number"),
        ({"memory_gb": -1}, "memory_gb must be a positive number"),
        ({"ssl_enabled": True}, "ssl_enabled=True needs ssl_cert_pem_file and ssl_key_pem_file"),
        ({"ssl_enabled": "yes"}, "ssl_enabled must be True or False"),
        ({"location": ""}, "location must be a non-empty printable string"),
        ({"tags": ["a"]}, "tags must be a dict"),
        ({"primary_key": "short"}, "primary_key must be"),
        ({"no_such_thing": 1}, "unknown parameter"),
    ],
)
def test_aci_refuses(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        AciWebservice.deploy_configuration(**kwargs)  # type: ignore[arg-type]


def test_aks_maps_and_says_where_it_runs_only_when_deployed(ws, fake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A configuration does not know where it will be deployed: saying "local target" there was
    contradicted by the next line when it went to Ray. Model.deploy says it, once, when true."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        c = AksWebservice.deploy_configuration(num_replicas=3, scoring_timeout_ms=5000)
        t = AksWebservice.deploy_configuration(token_auth_enabled=True, autoscale_min_replicas=2)
    assert [str(w.message) for w in seen] == []
    assert (c.workers, c.auth_enabled, c.scoring_timeout_ms, c.max_request_wait_ms) == (3, True, 5000, 500)
    assert (t.auth_enabled, t.token_auth_enabled, t.workers) == (False, True, 2)
    src = tmp_path / "src"
    src.mkdir()
    (src / "score.py").write_text("def init():\n    pass\n\n\ndef run(raw_data):\n    return raw_data\n")
    (tmp_path / "weights.bin").write_bytes(b"\x00")
    models = [Model.register(ws, tmp_path / "weights.bin", "weights")]
    with pytest.warns(UserWarning) as said:
        Model.deploy(ws, "aks-here", models, InferenceConfig("score.py", source_directory=src), c)
    (line,) = [str(w.message) for w in said]
    assert line == (
        "AksWebservice without deployment_target: deploying to the local target with 3 worker "
        "process(es) (num_replicas); pass deployment_target=<an AksCompute> to run it on Ray Serve"
    )
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        aci = AciWebservice.deploy_configuration()
        Model.deploy(ws, "aci-here", models, InferenceConfig("score.py", source_directory=src), aci)
    assert [str(w.message) for w in seen] == []
    with pytest.raises(InvalidInputError, match="num_replicas cannot be set"):
        AksWebservice.deploy_configuration(autoscale_enabled=True, num_replicas=2)
    with pytest.raises(InvalidInputError, match="autoscale_min_replicas"):
        AksWebservice.deploy_configuration(autoscale_min_replicas=5, autoscale_max_replicas=2)
    with pytest.raises(InvalidInputError, match="namespace must be a Kubernetes namespace name"):
        AksWebservice.deploy_configuration(namespace="Prod_1")


def test_local_port_validation() -> None:
    assert LocalWebservice.deploy_configuration(port=6789).port == 6789
    with pytest.raises(InvalidInputError, match="port"):
        LocalWebservice.deploy_configuration(port=70000)


@pytest.mark.parametrize("bad", ["ab", "Upper-case", "-lead", "trail-", "under_score", "x" * 33, "9start"])
def test_service_names(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid service name"):
        check_service_name(bad)
    assert check_service_name("sklearn-mnist-svc3") == "sklearn-mnist-svc3"


def test_inference_config_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "score.py").write_text("def init():\n    pass\n\ndef run(raw_data):\n    return 1\n")
    monkeypatch.chdir(tmp_path)
    ic = InferenceConfig(entry_script="score.py")
    assert ic.script_path == tmp_path / "score.py"
    with pytest.raises(InvalidInputError, match=r"'missing\.py' not found"):
        InferenceConfig(entry_script="missing.py")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidInputError, match=r"not a \.py file"):
        InferenceConfig(entry_script="notes.txt")
    (tmp_path / "my-score.py").write_text("x = 1\n")
    with pytest.raises(InvalidInputError, match="not a valid Python module name"):
        InferenceConfig(entry_script="my-score.py")
    (tmp_path / "broken.py").write_text("def init():\n    pass\n\ndef run(raw_data)\n    return 1\n")
    with pytest.raises(InvalidInputError, match=r"broken\.py line 4"):
        InferenceConfig(entry_script="broken.py")
    src = tmp_path / "src"
    src.mkdir()
    (src / "entry.py").write_text("def init():\n    pass\n\n\ndef run(raw_data):\n    return 1\n")
    assert InferenceConfig(entry_script="entry.py", source_directory=src).script_path == src / "entry.py"
    with pytest.raises(InvalidInputError, match="source_directory"):
        InferenceConfig(entry_script="entry.py", source_directory=tmp_path / "nope")


@pytest.mark.parametrize(
    "configure",
    [
        LocalWebservice.deploy_configuration,
        AciWebservice.deploy_configuration,
        AksWebservice.deploy_configuration,
    ],
)
def test_collect_model_data_on_every_configuration(configure) -> None:  # type: ignore[no-untyped-def]
    """v1's collect_model_data (an AKS setting there) is taken by every configuration here, with
    the retention keywords that bound what is collected; off unless asked for, as in v1."""
    on = configure(collect_model_data=True, retention_days=7, retention_mb=50)
    assert (on.collect_model_data, on.retention_days, on.retention_mb) == (True, 7, 50.0)
    off = configure()
    assert (off.collect_model_data, off.retention_days, off.retention_mb) == (False, 30, 1024.0)
    with pytest.raises(InvalidInputError, match="collect_model_data must be True or False, got 'false'"):
        configure(collect_model_data="false")
    with pytest.raises(InvalidInputError, match="retention_days must be a whole number of days"):
        configure(retention_days=1.5)
    with pytest.raises(InvalidInputError, match="retention_mb must be a positive number"):
        configure(retention_mb=0)


def test_update_switches_collection_and_keeps_the_rest() -> None:
    from modelport.deploy.configs import update_settings

    start = AksWebservice.deploy_configuration(num_replicas=2, scoring_timeout_ms=5000)
    on = update_settings(start, {"collect_model_data": True, "retention_days": 0})
    assert (on.collect_model_data, on.retention_days, on.workers, on.scoring_timeout_ms) == (True, 0, 2, 5000)
    off = update_settings(on, {"collect_model_data": False})
    assert (off.collect_model_data, off.retention_days) == (False, 0)
    assert update_settings(on, {"collect_model_data": None}).collect_model_data is True  # None: as it is
    with pytest.raises(InvalidInputError, match="collect_model_data must be True or False, got 1"):
        update_settings(start, {"collect_model_data": 1})


def test_an_endpoint_version_collects_too() -> None:
    from modelport.core.aks_endpoint import AksEndpoint

    assert AksEndpoint.deploy_configuration(version_name="v1", collect_model_data=True).collect_model_data
