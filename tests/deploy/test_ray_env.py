"""What a Ray replica is handed (modelport.deploy.ray_env), without a cluster: paths relative to
the shipped app/, the refusal of a bundle Ray cannot ship, the environment's lock, the keys."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from modelport.deploy.bundle import ServiceBundle
from modelport.deploy.spec import DeploymentSpec
from modelport.errors import InvalidInputError
from modelport.servicefiles import ServedModel, ServerSettings

pytest.importorskip("ray", reason="Ray is not installed: pip install 'modelport[ray]'")


def _bundle(root: Path, model_bytes: int = 10) -> ServiceBundle:
    app = root / "app"
    (app / "src").mkdir(parents=True)
    (app / "src" / "score.py").write_text("def init():\n    pass\n\ndef run(data):\n    return data\n")
    model_dir = app / "azureml-models" / "m" / "1"
    model_dir.mkdir(parents=True)
    (model_dir / "model.bin").write_bytes(b"\0" * model_bytes)
    settings = ServerSettings(
        entry_script=Path("score.py"),
        model_dir=model_dir,
        source_directory=app / "src",
        app_root=app,
        traces_file=root / "traces.jsonl",
        monitoring_dir=root.parent / "monitoring",
        keys_file=root.parent / "keys.json",
        service_name="svc",
        models=[ServedModel("m", "1")],
    )
    settings.write(root / "server.json", relative_to=root)
    spec = DeploymentSpec(models=("m:1",), entry_script="score.py", source_directory=str(app / "src"))
    bundle = ServiceBundle(
        root=root, service="svc", deployment_id="d1", interpreter=sys.executable, spec=spec
    )
    bundle.save()
    return bundle


def test_replica_settings_name_only_paths_inside_the_shipped_app(tmp_path: Path) -> None:
    from modelport.deploy.ray_env import replica_settings
    from modelport.server.config import ServerConfig

    settings = replica_settings(_bundle(tmp_path / "b"), token_auth=True)
    assert settings["app_root"] == "." and settings["source_directory"] == "src"
    assert settings["model_dir"] == str(Path("azureml-models") / "m" / "1")
    assert settings["entry_script"] == "score.py" and settings["token_auth"] is True
    for outside in ("keys_file", "traces_file", "monitoring_dir", "model_data"):
        assert outside not in settings
    assert str(tmp_path) not in repr(settings)  # nothing names a path of this machine
    # Read back in the replica's working directory (the unpacked app/), it finds the script.
    config = ServerConfig.from_mapping(settings, base=tmp_path / "b" / "app")
    where = config.location()
    assert where.entry_script == (tmp_path / "b" / "app" / "src" / "score.py").resolve()
    assert where.model_dir == (tmp_path / "b" / "app" / "azureml-models" / "m" / "1").resolve()


def test_a_bundle_ray_cannot_ship_is_refused_in_one_line(tmp_path: Path) -> None:
    from modelport.deploy.ray_env import check_size, package_limit

    bundle = _bundle(tmp_path / "b", model_bytes=4096)
    assert check_size(bundle, limit=1 << 20) >= 4096
    with pytest.raises(InvalidInputError) as info:
        check_size(bundle, limit=2048)
    message = str(info.value)
    assert "\n" not in message and "svc" in message and "Ray ships" in message
    assert package_limit() == 512 * 2**20  # Ray 2.60's gRPC limit, which the docs quote


def test_without_an_environment_a_node_gets_the_servers_requirements(tmp_path: Path) -> None:
    from modelport.deploy.ray_env import locked_requirements, runtime_env
    from modelport.environments.requirements import SERVER_REQUIREMENTS

    bundle = _bundle(tmp_path / "b")
    packages, options = locked_requirements(bundle)
    assert set(packages) == set(SERVER_REQUIREMENTS) and options == []
    renv = runtime_env(bundle, {"A": "1"})
    assert renv["working_dir"] == str(bundle.app_root)
    assert Path(renv["py_modules"][0]).name == "modelport"
    assert renv["uv"]["packages"] == packages and renv["env_vars"] == {"A": "1"}
    assert not any(p.startswith(("ray", "modelport")) for p in packages)


def test_replica_resources_are_checked_at_attach() -> None:
    from modelport.core.compute import AksCompute

    config = AksCompute.attach_configuration(address="127.0.0.1:1", replica_resources={"isolated": 1})
    assert config.replica_resources == {"isolated": 1}
    for bad in ({}, {"isolated": 0}, {"isolated": "1"}, ["isolated"], {"isolated": True}):
        with pytest.raises(InvalidInputError, match="replica_resources"):
            AksCompute.attach_configuration(address="127.0.0.1:1", replica_resources=bad)  # type: ignore[arg-type]


def test_only_an_owned_cluster_without_replica_resources_runs_replicas_in_place() -> None:
    """The measured shortcut (docs/scale-out.md, "Which path a service takes"): a cluster modelport
    started is on this machine; an attached one, or a target pinning replicas, is shipped to."""
    from modelport.deploy.cluster import ClusterRecord
    from modelport.deploy.targets.ray import in_place

    assert in_place(ClusterRecord("own", "127.0.0.1:6379", owned=True))
    assert not in_place(ClusterRecord("att", "127.0.0.1:6379", owned=False))
    pinned = ClusterRecord("own", "127.0.0.1:6379", owned=True, settings={"replica_resources": {"x": 1}})
    assert not in_place(pinned)
    assert not in_place(
        ClusterRecord("att", "10.0.0.5:6379", owned=False, settings={"replica_resources": {"x": 1}})
    )
