"""Spec translation and keys: pure functions, no virtualenv is built here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import modelport.environments
from modelport.environments import EnvSpec, cached_interpreter, spec_key
from modelport.environments.installers import pip_config_for_uv, summarize
from modelport.environments.packages import (
    canonical_name,
    conda_to_pip,
    is_azureml,
    normalize_requirement,
    python_from_conda,
    translate,
)
from modelport.errors import EnvironmentBuildError, InvalidInputError

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_public_surface() -> None:
    assert sorted(modelport.environments.__all__) == [
        "EnvSpec",
        "cached_interpreter",
        "resolve_interpreter",
        "spec_key",
    ]
    for name in modelport.environments.__all__:
        assert getattr(modelport.environments, name) is not None


@pytest.mark.parametrize(
    ("conda", "pip"),
    [
        ("scikit-learn=1.5.2", "scikit-learn==1.5.2"),
        ("scikit-learn==1.5.2", "scikit-learn==1.5.2"),
        ("numpy=1.26", "numpy==1.26.*"),
        ("numpy=1.26.*", "numpy==1.26.*"),
        ("numpy 1.26*", "numpy==1.26.*"),
        ("numpy>=1.20", "numpy>=1.20"),
        ("numpy >=1.20, <2", "numpy>=1.20,<2"),
        ("numpy", "numpy"),
        ("numpy=1.26.4=py311h64a7726_0", "numpy==1.26.4"),
        ("numpy 1.26.4 py311h64a7726_0", "numpy==1.26.4"),
        ("conda-forge::pandas", "pandas"),
        ("conda-forge::pandas>=2", "pandas>=2"),
        ("pytorch", "torch"),
        ("pytorch=2.3", "torch==2.3.*"),
        ("py-xgboost=2.0.3", "xgboost==2.0.3"),
        ("tensorflow-cpu", "tensorflow-cpu"),
        ("matplotlib-base", "matplotlib"),
        ("Scikit_Learn", "scikit-learn"),
    ],
)
def test_conda_to_pip(conda: str, pip: str) -> None:
    assert conda_to_pip(conda) == pip


@pytest.mark.parametrize("conda", ["pip", "python=3.11", "cudatoolkit=11.8", "_libgcc_mutex", "nomkl"])
def test_conda_only_packages_are_skipped(conda: str) -> None:
    assert conda_to_pip(conda) is None


def test_conda_or_versions_are_refused() -> None:
    with pytest.raises(EnvironmentBuildError, match="no pip equivalent"):
        conda_to_pip("numpy 1.25|1.26")


@pytest.mark.parametrize(
    ("conda", "version"),
    [
        ("python=3.11", "3.11"),
        ("python==3.12.1", "3.12"),
        ("python 3.11.7", "3.11"),
        ("python=3.6.2", "3.6"),
        ("python>=3.8", None),
        ("python", None),
        ("numpy=3.11", None),
    ],
)
def test_python_from_conda(conda: str, version: str | None) -> None:
    assert python_from_conda(conda) == version


def test_names_and_requirements() -> None:
    assert canonical_name("Ruamel_Yaml.Clib") == "ruamel-yaml-clib"
    assert normalize_requirement("  Scikit_Learn  >= 1.5 ") == "scikit-learn>= 1.5"
    assert (
        normalize_requirement("inference-schema[numpy-support]>=1.8")
        == "inference-schema[numpy-support]>=1.8"
    )
    url = "git+https://github.com/org/repo.git@v1#egg=thing"
    assert normalize_requirement(url) == url
    assert is_azureml("azureml-defaults")
    assert is_azureml("AzureML_Core[databricks]==1.57")
    assert is_azureml("azureml-inference-server-http>=1")
    assert not is_azureml("inference-schema")
    assert not is_azureml("azure-storage-blob")


def test_translate_v1_spec() -> None:
    reqs = translate(
        "tutorial-env",
        ("azureml-defaults", "inference-schema[numpy-support]", "joblib", "joblib"),
        ("python=3.11", "pip", "conda-forge::scikit-learn=1.5.2", "cudatoolkit", "azureml-core"),
    )
    assert reqs.packages == ("inference-schema[numpy-support]", "joblib", "scikit-learn==1.5.2")
    assert reqs.python == "3.11"
    assert reqs.replaced_azureml == ("azureml-defaults", "azureml-core")
    assert reqs.notes[0] == (
        "environment 'tutorial-env': replacing azureml-defaults, azureml-core "
        "with modelport's own scoring server"
    )
    assert any("conda-forge::scikit-learn=1.5.2 -> scikit-learn==1.5.2" in n for n in reqs.notes)
    assert any("skipping conda-only packages" in n and "cudatoolkit" in n for n in reqs.notes)


def test_translate_plain_spec_has_no_notes() -> None:
    assert translate("e", ("six==1.16.0",), ()).notes == ()


def test_env_spec_from_registry_dict() -> None:
    spec = EnvSpec.from_dict(
        {
            "name": "tutorial-env",
            "version": "3",
            "python_version": "3.11",
            "pip_packages": ["azureml-defaults", "joblib"],
            "conda_packages": ["scikit-learn"],
            "pip_options": ["--index-url https://example.invalid/simple"],
            "channels": ["conda-forge"],
            "user_managed_dependencies": False,
            "interpreter_path": None,
            "environment_variables": {"A": "1"},
            "docker_base_image": None,
        }
    )
    assert spec == EnvSpec(
        name="tutorial-env",
        pip_packages=("azureml-defaults", "joblib"),
        conda_packages=("scikit-learn",),
        python_version="3.11",
        pip_options=("--index-url https://example.invalid/simple",),
    )
    minimal = EnvSpec.from_dict({"name": "m", "user_managed_dependencies": True, "interpreter_path": "/x/py"})
    assert minimal.user_managed and minimal.interpreter_path == "/x/py" and minimal.pip_packages == ()


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"name": "e", "pip_packages": "six"},
        {"name": "e", "conda_packages": [1]},
        {"name": "e", "python_version": 3.11},
    ],
)
def test_env_spec_from_bad_dict(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        EnvSpec.from_dict(bad)


def test_spec_key_is_canonical() -> None:
    base = spec_key(EnvSpec("a", pip_packages=("six==1.16.0", "joblib")))
    assert len(base) == 20 and int(base, 16) >= 0
    # Names, order, spelling, duplicates and the replaced azureml packages do not matter...
    assert (
        spec_key(EnvSpec("b", pip_packages=("Joblib", "six==1.16.0", "joblib", "azureml-defaults"))) == base
    )
    assert spec_key(EnvSpec("c", pip_packages=("joblib",), conda_packages=("six=1.16.0", "pip"))) == base
    assert spec_key(EnvSpec("d", pip_packages=("six==1.16.0", "joblib"), python_version=RUNNING)) == base
    # ...what gets installed does.
    assert spec_key(EnvSpec("a", pip_packages=("six==1.17.0", "joblib"))) != base
    assert spec_key(EnvSpec("a", pip_packages=("six==1.16.0", "joblib"), python_version="3.12")) != base
    assert spec_key(EnvSpec("a", pip_packages=("six==1.16.0", "joblib"), pip_options=("--pre",))) != base


@pytest.mark.parametrize("version", ["3.8", "3.6.2", "2.7"])
def test_python_older_than_modelport_supports_is_refused_under_strict(version: str) -> None:
    with pytest.raises(EnvironmentBuildError, match=r"asks for Python .*needs Python >= 3\.11"):
        spec_key(EnvSpec("old", python_version=version, pin_policy="strict"))


@pytest.mark.parametrize("version", ["3.8", "3.6.2"])
def test_python_older_than_modelport_supports_uses_this_python_by_default(version: str) -> None:
    # The nearest policy: this Python, the same virtualenv as a spec that asks for no version.
    assert spec_key(EnvSpec("old", python_version=version)) == spec_key(EnvSpec("old"))


def test_cached_interpreter_without_a_build(tmp_path: Path) -> None:
    assert cached_interpreter(EnvSpec("e", pip_packages=("six",)), tmp_path) is None
    assert cached_interpreter(EnvSpec("u", user_managed=True), tmp_path) == Path(sys.executable)
    assert (
        cached_interpreter(EnvSpec("u", user_managed=True, interpreter_path="/no/python"), tmp_path) is None
    )


def test_pip_config_reaches_uv(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://example.invalid/simple\n"
        "extra-index-url = https://a.invalid/simple https://b.invalid/simple\n"
        f"cert = {tmp_path / 'ca.pem'}\n"
        "[install]\ntrusted-host = a.invalid\n"
    )
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIP_CONFIG_FILE": str(conf)}
    environ["PIP_FIND_LINKS"] = "/opt/links"
    flags, extra_env = pip_config_for_uv([], environ)
    pairs = list(zip(flags[::2], flags[1::2], strict=False))
    assert ("--index-url", "https://example.invalid/simple") in pairs
    assert ("--extra-index-url", "https://a.invalid/simple") in pairs
    assert ("--extra-index-url", "https://b.invalid/simple") in pairs
    assert ("--find-links", "/opt/links") in pairs
    assert ("--allow-insecure-host", "a.invalid") in pairs
    assert ("--index-strategy", "unsafe-best-match") in pairs
    assert extra_env == {"SSL_CERT_FILE": str(tmp_path / "ca.pem")}

    # uv's own variables and the environment's pip options win over pip's configuration.
    flags, _ = pip_config_for_uv(
        ["--index-url", "https://mine.invalid/simple"], {**environ, "UV_FIND_LINKS": "/x"}
    )
    assert "--find-links" not in flags and "https://example.invalid/simple" not in flags
    flags, _ = pip_config_for_uv([], {**environ, "UV_INDEX_URL": "https://uv.invalid/simple"})
    assert "--index-url" not in flags


def test_summarize_installer_errors() -> None:
    uv_out = (
        "Using Python 3.11.7 environment at: /tmp/x\n"
        "  \u00d7 No solution found when resolving dependencies:\n"
        "  \u2570\u2500\u25b6 Because nope-xyz was not found in the package registry and you require\n"
        "      nope-xyz==1.0, we can conclude that your requirements are unsatisfiable.\n"
    )
    assert summarize(uv_out).startswith("No solution found when resolving dependencies: Because nope-xyz")
    pip_out = (
        "Collecting six\n"
        "ERROR: Could not find a version that satisfies the requirement nope-xyz==1.0 (from versions: none)\n"
        "ERROR: No matching distribution found for nope-xyz==1.0\n"
    )
    assert summarize(pip_out).startswith("ERROR: Could not find a version")
    assert summarize("a\nb\nc\nd\n") == "b c d"
