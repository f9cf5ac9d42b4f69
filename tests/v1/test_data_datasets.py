"""v1's datastore and dataset cells ("work with data", "create and register datasets", the no-code
deployment notebook's registration), with ``azureml`` renamed to ``modelport`` (issue 12, point 3)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from modelport.core import Dataset, Datastore, Model, Workspace
from modelport.core.resource_configuration import ResourceConfiguration
from modelport.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from modelport.exceptions import UserErrorException

pd = pytest.importorskip("pandas", reason="the dev extra installs pandas")


def _write_csvs(folder: Path) -> None:
    (folder / "2018").mkdir(parents=True)
    (folder / "2018" / "part1.csv").write_text("age,bmi,target\n59,32.1,151\n48,21.6,75\n")
    (folder / "2018" / "part2.csv").write_text("age,bmi,target\n72,30.5,141\n")
    (folder / "readme.txt").write_text("not a csv")


def test_datastore_upload_and_download(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_csvs(tmp_path / "data")
    ws = Workspace.create("data-ws")

    datastore = ws.get_default_datastore()
    datastore.upload(src_dir="./data", target_path="diabetes", overwrite=True, show_progress=True)
    assert "Uploaded 3 files" in capsys.readouterr().out
    Path("extra").mkdir()
    Path("extra/labels.csv").write_text("target\n1\n")
    ref = datastore.upload_files(
        files=["./extra/labels.csv"], relative_root="./extra", target_path="diabetes/labels", overwrite=True
    )
    assert ref.path_on_datastore == "diabetes/labels"
    # v1 skips what the datastore already has unless overwrite=True
    Path("extra/labels.csv").write_text("changed\n")
    datastore.upload_files(["./extra/labels.csv"], relative_root="./extra", target_path="diabetes/labels")
    assert (ref.local_path / "labels.csv").read_text() == "target\n1\n"

    count = datastore.download(target_path="./downloaded", prefix="diabetes/2018", show_progress=False)
    assert count == 2
    assert Path("downloaded/diabetes/2018/part1.csv").read_text().startswith("age,bmi")
    assert Datastore.get(ws, "workspaceblobstore") == Datastore.get_default(ws) == Datastore(ws)
    assert Datastore(ws, "workspacefilestore").name == "workspacefilestore"

    with pytest.raises(NotFoundError, match=r"datastore 'nosuch' not found.*workspaceblobstore"):
        Datastore.get(ws, "nosuch")
    with pytest.raises(InvalidInputError, match="must be relative and stay inside"):
        datastore.path("../../outside")
    with pytest.raises(UserErrorException, match="src_dir must be a folder path, got NoneType"):
        datastore.upload(src_dir=None)
    with pytest.raises(UserErrorException, match="cannot attach cloud storage"):
        Datastore.register_azure_blob_container(ws, "blobs", "container", "account")


def test_tabular_dataset_registered_with_versions(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_csvs(tmp_path / "data")
    ws = Workspace.create("tabular-ws")
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir="data", target_path="diabetes", overwrite=True, show_progress=False)

    diabetes = Dataset.Tabular.from_delimited_files(path=[(datastore, "diabetes/**/*.csv")])
    df = diabetes.to_pandas_dataframe()
    assert list(df.columns) == ["age", "bmi", "target"]
    assert df["target"].tolist() == [151, 75, 141]
    assert diabetes.take(2).drop_columns("bmi").to_pandas_dataframe().to_dict("list") == {
        "age": [59, 48],
        "target": [151, 75],
    }

    diabetes = diabetes.register(
        workspace=ws,
        name="diabetes",
        description="diabetes data",
        tags={"format": "CSV"},
        create_new_version=True,
    )
    assert (diabetes.name, diabetes.version, diabetes.id) == ("diabetes", 1, "diabetes:1")
    # The same definition again is the same version, as in v1.
    assert diabetes.register(ws, "diabetes").version == 1
    # Another definition needs create_new_version=True.
    first_file = Dataset.Tabular.from_delimited_files(path=datastore.path("diabetes/2018/part1.csv"))
    with pytest.raises(AlreadyExistsError, match="create_new_version=True"):
        first_file.register(ws, "diabetes")
    assert first_file.keep_columns(["age"]).register(ws, "diabetes", create_new_version=True).version == 2

    latest = Dataset.get_by_name(ws, name="diabetes")
    assert latest.version == 2 and latest.to_pandas_dataframe().to_dict("list") == {"age": [59, 48]}
    v1 = Dataset.get_by_name(workspace=ws, name="diabetes", version=1)
    assert v1.description == "diabetes data" and v1.tags == {"format": "CSV"}
    assert len(v1.to_pandas_dataframe()) == 3
    assert Dataset.get_by_id(ws, "diabetes:1").version == 1
    assert list(ws.datasets) == ["diabetes"]

    with pytest.raises(NotFoundError, match="dataset 'diabetes' has no version 7"):
        Dataset.get_by_name(ws, "diabetes", version=7)
    with pytest.raises(NotFoundError, match="dataset 'nope' not found"):
        Dataset.get_by_name(ws, "nope")
    with pytest.raises(
        NotFoundError, match=r"no file found at datastore 'workspaceblobstore' path 'nothing/\*.csv'"
    ):
        Dataset.Tabular.from_delimited_files([(datastore, "nothing/*.csv")])


def test_file_dataset_over_datastore_and_local_files(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_csvs(tmp_path / "data")
    ws = Workspace.create("files-ws")
    datastore = ws.get_default_datastore()

    uploaded = Dataset.File.upload_directory(
        src_dir="data", target=(datastore, "raw"), pattern="**/*.csv", show_progress=False
    )
    assert sorted(uploaded.to_path()) == ["2018/part1.csv", "2018/part2.csv"]
    files = uploaded.register(ws, "raw-files", description="raw csv files")
    paths = Dataset.get_by_name(ws, "raw-files").download(target_path="out", overwrite=True)
    assert sorted(Path(p).relative_to(tmp_path / "out").as_posix() for p in paths) == [
        "2018/part1.csv",
        "2018/part2.csv",
    ]
    with files.mount() as mounted:
        assert (Path(mounted.mount_point) / "2018" / "part2.csv").is_file()

    local = Dataset.File.from_files(path="data/**/*.txt")
    assert local.to_path() == ["readme.txt"]
    assert local.register(ws, "notes").version == 1
    assert type(Dataset.get_by_name(ws, "notes")).__name__ == "FileDataset"


def test_model_registered_with_sample_datasets_and_resources(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The no-code deployment notebook's registration cell."""
    monkeypatch.chdir(tmp_path)
    ws = Workspace.create("nocode-ws")
    Path("features.csv").write_text("f1,f2\n1.0,2.0\n3.0,4.0\n")
    Path("labels.csv").write_text("y\n10\n20\n")
    Path("sklearn_regression_model.pkl").write_bytes(b"model bytes")
    datastore = ws.get_default_datastore()
    datastore.upload_files(
        ["./features.csv", "./labels.csv"], target_path="sklearn_regression/", overwrite=True
    )

    input_dataset = Dataset.Tabular.from_delimited_files(
        path=[(datastore, "sklearn_regression/features.csv")]
    )
    output_dataset = Dataset.Tabular.from_delimited_files(path=[(datastore, "sklearn_regression/labels.csv")])
    model = Model.register(
        workspace=ws,
        model_name="my-sklearn-model",
        model_path="./sklearn_regression_model.pkl",
        model_framework=Model.Framework.SCIKITLEARN,
        model_framework_version="1.5.2",
        sample_input_dataset=input_dataset,
        sample_output_dataset=output_dataset,
        resource_configuration=ResourceConfiguration(cpu=1, memory_in_gb=0.5),
        description="Ridge regression model to predict diabetes progression.",
        tags={"area": "diabetes", "type": "regression"},
    )
    print("Name:", model.name, "Version:", model.version)

    again = Model(ws, "my-sklearn-model")
    assert again.resource_configuration == ResourceConfiguration(cpu=1, memory_in_gb=0.5)
    assert again.resource_configuration.serialize() == {"cpu": 1, "memoryInGB": 0.5, "gpu": None}
    assert again.sample_input_dataset.to_pandas_dataframe().values.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert again.sample_output_dataset.to_pandas_dataframe()["y"].tolist() == [10, 20]
    assert again.sample_input_dataset.name is None  # given unregistered, it stays so
    plain = Model.register(ws, "./sklearn_regression_model.pkl", "plain-model")
    assert plain.sample_input_dataset is None and plain.resource_configuration is None

    with pytest.raises(InvalidInputError, match="resource_configuration must be a ResourceConfiguration"):
        Model.register(ws, "./sklearn_regression_model.pkl", "bad", resource_configuration={"cpu": 1})
    with pytest.raises(InvalidInputError, match="sample_input_dataset must be a dataset"):
        Model.register(ws, "./sklearn_regression_model.pkl", "bad", sample_input_dataset="features.csv")
    with pytest.raises(InvalidInputError, match="cpu must be a number >= 0"):
        ResourceConfiguration(cpu=-1)
    assert [m.name for m in Model.list(ws)] == ["my-sklearn-model", "plain-model"]  # nothing half-registered


def test_to_pandas_dataframe_without_pandas_says_so(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "t.csv").write_text("a\n1\n")
    ds = Dataset.Tabular.from_delimited_files(path=str(tmp_path / "t.csv"))
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(InvalidInputError, match=r"to_pandas_dataframe needs pandas.*pip install pandas"):
        ds.to_pandas_dataframe()
