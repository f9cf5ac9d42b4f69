from __future__ import annotations

from pathlib import Path

import pytest

from modelport.core.conda_dependencies import CondaDependencies
from modelport.core.environment import Environment
from modelport.errors import AlreadyExistsError, EnvironmentNotFound, InvalidInputError
from modelport.workspace import Workspace


def test_register_versions_and_dedup(ws: Workspace) -> None:
    env = Environment("tutorial-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn==1.9.1", "joblib"])
    env.environment_variables = {"A": "1"}
    assert env.register(ws).version == "1"
    # Identical spec: the same version comes back, no duplicate.
    assert env.register(ws).version == "1"
    assert Environment.get(ws, "tutorial-env").register(ws).version == "1"
    env.python.conda_dependencies.add_pip_package("numpy")
    assert env.register(ws).version == "2"
    got = Environment.get(ws, "tutorial-env", version="1")
    assert got.python.conda_dependencies.pip_packages == ["scikit-learn==1.9.1", "joblib"]
    assert got.environment_variables == {"A": "1"}
    assert Environment.get(ws, "tutorial-env").version == "2"
    # Beside the curated ones (AzureML-*), as v1 lists them.
    assert [n for n in Environment.list(ws) if not n.startswith("AzureML-")] == ["tutorial-env"]
    with pytest.raises(EnvironmentNotFound, match="'tutorial-env' has no version 9"):
        Environment.get(ws, "tutorial-env", version="9")
    with pytest.raises(EnvironmentNotFound, match="'nope' not found"):
        Environment.get(ws, "nope")


def test_conda_dependencies_roundtrip(tmp_path: Path) -> None:
    deps = CondaDependencies.create(
        pip_packages=["azureml-defaults", "inference-schema"],
        conda_packages=["scikit-learn=1.5", "numpy"],
        python_version="3.11",
    )
    deps.add_pip_package("joblib")
    deps.add_conda_package("numpy>=1.26")  # replaces the earlier numpy
    assert deps.conda_packages == ["scikit-learn=1.5", "numpy>=1.26"]
    text = deps.serialize_to_string()
    assert "python=3.11" in text and "azureml-defaults" in text
    path = deps.save_to_file(tmp_path, "env.yml")
    again = CondaDependencies(conda_dependencies_file_path=path)
    assert again.pip_packages == ["azureml-defaults", "inference-schema", "joblib"]
    assert again.conda_packages == ["scikit-learn=1.5", "numpy>=1.26"]
    assert again.get_python_version() == "3.11"
    with pytest.raises(InvalidInputError, match="invalid package"):
        deps.add_pip_package("  ")


def test_from_conda_specification_and_requirements(tmp_path: Path) -> None:
    yml = tmp_path / "myenv.yml"
    yml.write_text(
        "name: project_environment\n"
        "dependencies:\n"
        "  - python=3.11.7\n"
        "  - scikit-learn\n"
        "  - pip\n"
        "  - pip:\n"
        "    - azureml-defaults\n"
        "    - joblib==1.4.2\n"
        "channels:\n  - conda-forge\n"
    )
    env = Environment.from_conda_specification("conda-env", yml)
    deps = env.python.conda_dependencies
    assert deps.conda_packages == ["scikit-learn"]
    assert deps.pip_packages == ["azureml-defaults", "joblib==1.4.2"]
    assert deps.get_python_version() == "3.11.7"
    req = tmp_path / "requirements.txt"
    req.write_text("# comment\nnumpy>=1.26\n\nscikit-learn==1.9.1  # pinned\n--extra-index-url http://x\n")
    env2 = Environment.from_pip_requirements("req-env", req)
    assert env2.python.conda_dependencies.pip_packages == ["numpy>=1.26", "scikit-learn==1.9.1"]
    assert env2.python.conda_dependencies.pip_options == ["--extra-index-url http://x"]
    with pytest.raises(InvalidInputError, match="does not exist"):
        Environment.from_pip_requirements("x", tmp_path / "missing.txt")
    bad = tmp_path / "bad.yml"
    bad.write_text("dependencies: [unclosed")
    with pytest.raises(InvalidInputError, match="not valid YAML"):
        Environment.from_conda_specification("x", bad)


def test_save_and_load_directory(tmp_path: Path) -> None:
    env = Environment("saved")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = "/usr/bin/python3"
    env.environment_variables = {"X": "y"}
    env.save_to_directory(tmp_path / "envdir")
    with pytest.raises(AlreadyExistsError):
        env.save_to_directory(tmp_path / "envdir")
    env.save_to_directory(tmp_path / "envdir", overwrite=True)
    loaded = Environment.load_from_directory(tmp_path / "envdir")
    assert loaded == env
    assert loaded.python.user_managed_dependencies is True


@pytest.mark.parametrize("bad", ["", "has space", "AzureML-reserved", None])
def test_bad_environment_names(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        Environment(bad)  # type: ignore[arg-type]


def test_environment_variables_must_be_strings(ws: Workspace) -> None:
    env = Environment("vars")
    env.environment_variables = {"A": 1}  # type: ignore[dict-item]
    with pytest.raises(InvalidInputError, match="environment_variables"):
        env.register(ws)
