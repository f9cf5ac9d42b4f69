"""Attribute reads of v1 objects give sensible local values (issue 22, part 2): what v1 code
prints or formats about a datastore, a workspace, a model and a service."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.exceptions import NotSupported


def test_a_datastores_v1_attributes(home: Path, tmp_path: Path) -> None:
    from modelport.core import Datastore, Workspace
    from modelport.data.azure_storage_datastore import AzureBlobDatastore, AzureFileDatastore

    ws = Workspace.create(name="reads", exist_ok=True)
    blob = ws.get_default_datastore()
    assert isinstance(blob, AzureBlobDatastore)
    assert (blob.datastore_type, blob.container_name, blob.account_name) == (
        "AzureBlob",
        "workspaceblobstore",
        "local",
    )
    assert blob.protocol == "file" and blob.endpoint.startswith("file://")
    # the endpoint is where the data really is: a file uploaded shows up under it
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    blob.upload(str(tmp_path / "data"), target_path="d", show_progress=False)
    assert (Path(blob.endpoint.removeprefix("file://")) / "d" / "a.csv").read_text() == "x\n1\n"
    assert blob.account_key is None and blob.sas_token is None and blob.is_sas is False
    assert blob.subscription_id == ws.subscription_id and blob.resource_group == ws.resource_group

    files = Datastore.get(ws, "workspacefilestore")
    assert isinstance(files, AzureFileDatastore) and files.datastore_type == "AzureFile"
    assert blob.as_upload().mode == "upload" and blob.as_upload().local_path == blob.root
    blob.set_as_default()  # it is the default already
    with pytest.raises(NotSupported, match="workspaceblobstore"):
        files.set_as_default()
    with pytest.raises(NotSupported, match=r"pandas\.read_sql"):
        Datastore.register_azure_sql_database(ws, "sql", "server", "db")


def test_a_runs_and_an_experiments_v1_members(home: Path, tmp_path: Path) -> None:
    from modelport.core import Experiment, Run, ScriptRun, ScriptRunConfig, Workspace, get_run

    ws = Workspace.create(name="runs", exist_ok=True)
    exp = Experiment(ws, "exp")
    (tmp_path / "train.py").write_text("print('training')\n")
    run = exp.submit(ScriptRunConfig(source_directory=str(tmp_path), script="train.py"))
    run.wait_for_completion()
    assert isinstance(run, ScriptRun)
    assert Run.get(ws, run.id) == run and get_run(exp, run.id) == run
    assert run.get_detailed_status() == {"status": "Completed", "details": None}
    logs = run.get_all_logs(tmp_path / "logs")
    assert logs and any("training" in Path(p).read_text() for p in logs)
    assert any("training" in text for text in run.get_details_with_logs()["logFiles"].values())
    run.flush()
    assert run.RUN_TYPE == "azureml.scriptrun"
    with pytest.raises(Exception, match="ran in this Python"):
        run.get_environment()
    assert run.identity is None and str(ws.path) in run.portal_url
    assert exp.workspace_object is ws and exp.archived_time is None and str(ws.path) in exp.portal_url
    with pytest.raises(NotSupported, match="environment variable"):
        run.get_secret("db-password")
    with pytest.raises(NotSupported, match="pipelines"):
        run.child_run()


def test_a_workspaces_v1_attributes(home: Path) -> None:
    from modelport.core import Experiment, Workspace

    ws = Workspace.create(name="ws-reads", exist_ok=True, subscription_id="sub-1", resource_group="rg-1")
    assert (ws.name, ws.subscription_id, ws.resource_group) == ("ws-reads", "sub-1", "rg-1")
    assert ws.location == "local" and isinstance(ws.sku, str) and ws.tags == {}
    assert ws.discovery_url == ws.path.as_uri()
    assert (ws.images, ws.private_endpoints, ws.linked_services) == ({}, {}, {})
    assert ws.DEFAULT_CPU_CLUSTER_NAME == "cpu-cluster"
    run = Experiment(ws, "exp").start_logging()
    run.complete()
    assert ws.get_run(run.id) == run
    with pytest.raises(NotSupported, match="environment variable"):
        ws.get_default_keyvault()
    with pytest.raises(NotSupported, match="no storage or registry keys"):
        ws.list_keys()


def test_a_models_v1_attributes(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from modelport.core import Dataset, Experiment, Model, Workspace

    ws = Workspace.create(name="model-reads", exist_ok=True)
    (tmp_path / "model.pkl").write_bytes(b"weights")
    (tmp_path / "train.csv").write_text("a,b\n1,2\n")
    run = Experiment(ws, "train").start_logging()
    run.upload_file("outputs/model.pkl", str(tmp_path / "model.pkl"))
    model = run.register_model("m", model_path="outputs/model.pkl", tags={"k": "v"})
    run.complete()
    assert model.run == run and model.experiment_name == "train" and model.run_id == run.id
    assert (model.name, model.version, model.tags) == ("m", 1, {"k": "v"})
    assert model.mime_type == "application/octet-stream" and model.unpack is False

    train = Dataset.Tabular.from_delimited_files(path=str(tmp_path / "train.csv"))
    model.add_dataset_references([("training", train)])
    again = Model(ws, "m")
    assert list(again.datasets) == ["training"]
    assert again.datasets["training"][0].to_pandas_dataframe()["b"].tolist() == [2]

    again.update_tags_properties(add_tags={"x": "1"}, remove_tags=["k"], add_properties={"p": "q"})
    again = Model(ws, "m")
    assert again.tags == {"x": "1"} and again.properties["p"] == "q"
    again.print_configuration()
    assert '"name": "m"' in capsys.readouterr().out
    with pytest.raises(NotSupported, match="download"):
        again.get_sas_urls()


def test_data_references_round_trip_and_output_modes(home: Path) -> None:
    from modelport.core import Workspace
    from modelport.data import DataType, OutputFileDatasetConfig
    from modelport.data.datapath import DataPath, DataPathComputeBinding

    ws = Workspace.create(name="data-reads", exist_ok=True)
    ref = ws.get_default_datastore().path("titanic/Titanic.csv").as_download(path_on_compute="/tmp/t")
    path = DataPath.create_from_data_reference(ref)
    binding = DataPathComputeBinding.create_from_data_reference(ref)
    assert (path.datastore_name, path.path_on_datastore) == ("workspaceblobstore", "titanic/Titanic.csv")
    assert (binding.mode, binding.path_on_compute) == ("download", "/tmp/t")
    again = binding.create_data_reference("t", path)
    assert again.path_on_datastore == ref.path_on_datastore and again.local_path == ref.local_path
    assert again.mode == "download"

    out = OutputFileDatasetConfig(name="prepared")
    assert out.mode == "mount" and out.source is None
    tabular = out.read_delimited_files()
    assert tabular.as_mount() is tabular and tabular.as_upload() is tabular and tabular.mode == "mount"
    with pytest.raises(NotSupported, match="pandas"):
        tabular.keep_columns(["a"])
    with pytest.raises(NotSupported, match="astype"):
        DataType.to_float()


def test_environment_v1_members(home: Path, tmp_path: Path) -> None:
    import sys
    import zipfile

    from modelport.core import Environment, Workspace
    from modelport.core.conda_dependencies import CondaDependencies

    ws = Workspace.create(name="env-reads", exist_ok=True)
    (tmp_path / "requirements.txt").write_text("numpy\n")
    env = Environment.from_docker_image(
        "img", "python:3.11-slim", pip_requirements=tmp_path / "requirements.txt"
    )
    assert env.docker.base_image == "python:3.11-slim"
    assert "numpy" in env.python.conda_dependencies.pip_packages
    assert (
        Environment.from_dockerfile("df", "FROM python:3.11-slim\n")
        .to_spec()["docker_base_dockerfile"]
        .startswith("FROM python")
    )
    assert (env.spark, env.databricks, env.r, env.asset_id) == (None, None, None, None)

    wheel = tmp_path / "mylib-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("mylib/__init__.py", "")
    kept = Environment.add_private_pip_wheel(ws, wheel)
    assert Path(kept).read_bytes() == wheel.read_bytes() and Path(kept).is_relative_to(ws.path)
    with pytest.raises(Exception, match="already in the workspace"):
        Environment.add_private_pip_wheel(ws, wheel)
    assert Environment.add_private_pip_wheel(ws, wheel, exist_ok=True) == kept
    CondaDependencies().add_pip_package(kept)  # what v1's cell does next

    mine = Environment("mine")
    mine.python.user_managed_dependencies = True
    mine.python.interpreter_path = sys.executable
    assert Path(mine.build_local(ws)).samefile(sys.executable)
    with pytest.raises(NotSupported, match="build_local"):
        env.build(ws)


def test_v1s_old_inference_config_keywords(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelport.core.model import InferenceConfig

    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.py").write_text("def init():\n    pass\n\ndef run(data):\n    return data\n")
    (tmp_path / "src" / "myenv.yml").write_text(
        "name: myenv\ndependencies:\n  - python=3.6.2\n  - pip:\n    - scikit-learn==0.22.1\n"
    )
    config = InferenceConfig(
        runtime="python",
        entry_script="score.py",
        source_directory="src",
        conda_file="myenv.yml",  # v1: relative to source_directory
        base_image="mcr.microsoft.com/azureml/base:intelmpi2018.3-ubuntu16.04",
        enable_gpu=False,
        cuda_version="9.1",
    )
    env = config.environment
    assert env is not None and "scikit-learn==0.22.1" in env.python.conda_dependencies.pip_packages
    assert env.docker.base_image == "mcr.microsoft.com/azureml/base:intelmpi2018.3-ubuntu16.04"
    assert (config.conda_file, config.enable_gpu, config.cuda_version) == ("myenv.yml", False, "9.1")
    config.validate_configuration()
    # the same conda file gives the same environment (one build)
    assert (
        InferenceConfig("score.py", source_directory="src", conda_file="myenv.yml").environment.name
        == env.name
    )
    with pytest.raises(Exception, match="not both"):
        InferenceConfig("score.py", source_directory="src", conda_file="myenv.yml", environment=env)


def test_conda_dependencies_v1_members() -> None:
    from modelport.core.conda_dependencies import CondaDependencies

    deps = CondaDependencies.create(pip_packages=["numpy==1.26.4"])
    deps.add_tensorflow_pip_package(version="2.16.1")
    assert "tensorflow==2.16.1" in deps.pip_packages
    deps.set_pip_index_url("https://example.invalid/simple")
    deps.set_pip_index_url("https://mirror.invalid/simple")
    assert deps.pip_options == ["--index-url https://mirror.invalid/simple"]
    deps.remove_pip_option("--index-url https://mirror.invalid/simple")
    assert deps.pip_options == []
    deps.set_pip_requirements(["--extra-index-url https://x.invalid", "pandas", "scipy==1.13.0"])
    assert deps.pip_packages == ["pandas", "scipy==1.13.0"] and deps.pip_options == [
        "--extra-index-url https://x.invalid"
    ]
    deps.remove_channel("conda-forge")
    assert deps.conda_channels == []
    assert CondaDependencies.merge_requirements(["numpy", "pandas", "numpy==2.0.0"]) == [
        "numpy==2.0.0",
        "pandas",
    ]
    assert CondaDependencies().get_default_number_of_packages() == (0, 0)
    with pytest.raises(NotSupported, match="onnxruntime"):
        deps.add_cntk_package()


def test_dataset_v1_members(home: Path, tmp_path: Path) -> None:
    from modelport.core import Dataset, Workspace
    from modelport.data import FileDataset, TabularDataset

    ws = Workspace.create(name="ds-reads", exist_ok=True)
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    ds = Dataset.Tabular.from_delimited_files(path=str(tmp_path / "d.csv")).register(ws, "d", tags={"k": "v"})
    ds.add_tags({"stage": "raw"})
    ds.remove_tags(["k"])
    ds.update(description="two rows")
    again = TabularDataset.get_by_name(ws, "d")
    assert (again.tags, again.description) == ({"stage": "raw"}, "two rows")
    assert Dataset.get(ws, name="d").id == again.id == Dataset.get(ws, id="d:1").id
    assert [d.name for d in Dataset.list(ws)] == ["d"]
    assert TabularDataset.Tabular is Dataset.Tabular and FileDataset.File is Dataset.File
    assert again.timestamp_columns == (None, None) and again.data_changed_time is None
    with pytest.raises(NotSupported, match="describe"):
        again.get_profile()
    with pytest.raises(NotSupported, match="pandas"):
        again.random_split(0.8)
    with pytest.raises(NotSupported, match=r"Dataset\.Tabular"):
        Dataset.from_delimited_files(str(tmp_path / "d.csv"))
    with pytest.raises(Exception, match="not registered"):
        Dataset.Tabular.from_delimited_files(path=str(tmp_path / "d.csv")).add_tags({"x": "y"})


def test_pipeline_v1_members(home: Path, tmp_path: Path) -> None:
    from modelport.core import Workspace
    from modelport.pipeline.core import PipelineData, PortDataReference
    from modelport.pipeline.steps import PythonScriptStep

    ws = Workspace.create(name="pipe-reads", exist_ok=True)
    (tmp_path / "prep.py").write_text("print('prep')\n")
    data = PipelineData("prepared", datastore=ws.get_default_datastore())
    assert data.data_type == "AnyDirectory"
    prep = PythonScriptStep(
        script_name="prep.py", source_directory=str(tmp_path), outputs=[data], name="prep"
    )
    train = PythonScriptStep(script_name="prep.py", source_directory=str(tmp_path), name="train")
    train.run_after(prep)
    assert train.run_after_steps == [prep] and train.step_type == "PythonScriptStep"
    assert Path(train.get_source_directory() or "").samefile(tmp_path)
    with pytest.raises(NotSupported, match="PythonScriptStep"):
        train.create_node(None, None, None)
    with pytest.raises(NotSupported, match="argparse"):
        data.get_env_variable_name()

    ref = PortDataReference(ws.get_default_datastore(), "azureml/run-1/prepared", "prepared")
    assert ref.name == "prepared"
    mounted = ref.as_mount()
    assert (mounted.path_on_datastore, mounted.mode, mounted.local_path) == (
        "azureml/run-1/prepared",
        "mount",
        ref.local_path,
    )
    assert ref.as_download().mode == "download"


def unreadable(obj: object, module: str, name: str) -> list[str]:
    """The v1 properties and attributes of ``module.name`` that cannot be read on ``obj`` (a real
    object), less the known gaps: each read must give a value, not raise."""
    import json

    here = Path(__file__).parent
    members = json.loads((here / "v1_surface.json").read_text())["modules"][module][name]["members"]
    gaps = json.loads((here / "v1_surface_gaps.json").read_text())["gaps"].get(f"{module}.{name}", [])
    bad = []
    for member, kind in members.items():
        if kind in ("property", "attribute") and member not in gaps:
            try:
                getattr(obj, member)
            except Exception as exc:  # the assertion below names each one
                bad.append(f"{member}: {type(exc).__name__}: {exc}")
    return bad


def test_every_v1_attribute_of_the_main_objects_reads(home: Path, tmp_path: Path) -> None:
    from modelport.core import Dataset, Environment, Experiment, Model, Workspace

    ws = Workspace.create(name="all-reads", exist_ok=True)
    (tmp_path / "m.txt").write_text("x")
    (tmp_path / "d.csv").write_text("a\n1\n")
    run = Experiment(ws, "e").start_logging()
    run.complete()
    objects = {
        ("azureml.core.workspace", "Workspace"): ws,
        ("azureml.core.datastore", "Datastore"): ws.get_default_datastore(),
        ("azureml.data.azure_storage_datastore", "AzureBlobDatastore"): ws.get_default_datastore(),
        ("azureml.core.model", "Model"): Model.register(
            ws, model_path=str(tmp_path / "m.txt"), model_name="m"
        ),
        ("azureml.core", "Experiment"): run.experiment,
        ("azureml.core", "Run"): run,
        ("azureml.core", "Environment"): Environment("env1"),
        ("azureml.data", "TabularDataset"): Dataset.Tabular.from_delimited_files(
            str(tmp_path / "d.csv")
        ).register(ws, "d"),
        ("azureml.data", "FileDataset"): Dataset.File.from_files(str(tmp_path / "d.csv")).register(ws, "f"),
    }
    for (module, name), obj in objects.items():
        assert not unreadable(obj, module, name), f"{name}: {unreadable(obj, module, name)}"
