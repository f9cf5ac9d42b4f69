"""v1's curated environments, as a built-in catalog: v1's names, v1's pins.

Azure ML gave every workspace "curated" environments (``AzureML-Minimal``, ``AzureML-Tutorial``,
``AzureML-sklearn-1.0-ubuntu20.04-py38-cpu``, ...): Docker images with a framework preinstalled,
used by name without registering anything. Locally an environment is a virtualenv, so each name
maps to the framework its name says, at the version its name says, and on the Python its name
says (``py37``). What has no wheel for this Python is replaced when the environment is built by
the same pin policy as any environment's (:mod:`modelport.environments.pins`): the nearest
release that installs, said in one line (``scikit-learn==0.24.1 -> 1.1.3: 0.24.1 has no wheel
for Python 3.11``); under ``strict`` such a curated environment is refused like any other.
``-gpu`` and ``cuda`` names get the same packages as their CPU twins (PyPI's builds, which use a
GPU when one is there).

Example::

    >>> spec = curated_spec("AzureML-sklearn-1.0-ubuntu20.04-py38-cpu")
    >>> spec["pip_packages"][:1], spec["python_version"]
    (['scikit-learn==1.0.2'], '3.8')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["CURATED", "CURATED_VERSION", "Curated", "curated_names", "curated_spec", "is_curated"]

#: The version every catalog entry reports (a local catalog holds one version of each).
CURATED_VERSION = "1"


@dataclass(frozen=True)
class Curated:
    """One catalog entry: what v1 called it, the packages its image pinned, and how it differs
    from v1 beyond what the pin policy replaces (``note``)."""

    name: str
    pip_packages: tuple[str, ...]
    description: str
    note: str = ""

    @property
    def python_version(self) -> str | None:
        """The Python v1's image had, from the name (``py37`` -> ``3.7``); None when it does not say."""
        match = re.search(r"-py3(\d+)-", self.name)
        return f"3.{match.group(1)}" if match else None


# Companions at versions that install on Python 3.11+, so that the framework pin alone is chosen.
_COMPANIONS = ("scipy==1.11.4", "numpy==1.26.4", "pandas==2.2.3", "joblib==1.4.2")
_SKLEARN_15 = ("scikit-learn==1.5.2", "scipy==1.14.1", "numpy==1.26.4", "pandas==2.2.3", "joblib==1.4.2")


def _sklearn(version: str) -> tuple[str, ...]:
    return (f"scikit-learn=={version}", *_COMPANIONS)


def _torch(torch: str, vision: str) -> tuple[str, ...]:
    return (f"torch=={torch}", f"torchvision=={vision}")


def _entries() -> list[Curated]:
    return [
        Curated("AzureML-Minimal", (), "modelport's scoring server only (v1: azureml-defaults)"),
        Curated(
            "AzureML-minimal-ubuntu18.04-py37-cpu-inference",
            (),
            "modelport's scoring server only (v1: a minimal inference image)",
        ),
        Curated(
            "AzureML-Tutorial",
            (*_SKLEARN_15, "matplotlib==3.9.2"),
            "scikit-learn, pandas and matplotlib, for the v1 tutorials",
        ),
        Curated("AzureML-sklearn-1.5", _SKLEARN_15, "scikit-learn 1.5 with pandas"),
        Curated(
            "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu", _sklearn("1.0.2"), "scikit-learn 1.0 with pandas"
        ),
        Curated(
            "AzureML-sklearn-0.24-ubuntu18.04-py37-cpu", _sklearn("0.24.1"), "scikit-learn 0.24 with pandas"
        ),
        Curated(
            "AzureML-sklearn-0.24.1-ubuntu18.04-py37-cpu-inference",
            _sklearn("0.24.1"),
            "scikit-learn 0.24.1, for inference",
        ),
        Curated("AzureML-Scikit-learn-0.20.3", _sklearn("0.20.3"), "scikit-learn 0.20.3"),
        Curated(
            "AzureML-lightgbm-3.2-ubuntu18.04-py37-cpu",
            ("lightgbm==3.2.1", *_sklearn("0.24.1")),
            "LightGBM 3.2 with scikit-learn and pandas",
        ),
        Curated(
            "AzureML-xgboost-0.9-ubuntu18.04-py37-cpu-inference",
            ("xgboost==1.7.6", *_sklearn("0.24.1")),
            "XGBoost 0.9 (1.7.6 here), for inference",
            # 0.90's wheel (py3-none) installs here, so the pin policy would keep it; it predates
            # Python 3.11 and numpy 1.26, so the catalog names a release that runs on them.
            "xgboost 0.90 predates Python 3.11: 1.7.6 is used",
        ),
        Curated(
            "AzureML-onnxruntime-1.6-ubuntu18.04-py37-cpu-inference",
            ("onnxruntime==1.6.0",),
            "ONNX Runtime 1.6, for inference",
        ),
        Curated(
            "AzureML-PySpark-MmlSpark-0.15",
            ("pyspark==3.5.9",),
            "PySpark (Spark 3.5 here; v1: Spark 2.4 with MMLSpark 0.15), on a local Java runtime",
            # PySpark 2.4 (an sdist) would build here, then fail on Python 3.8+ (its cloudpickle):
            # the catalog names the newest Spark 3, which runs on Java 8-17 as v1's code expects.
            "pyspark 2.4 predates Python 3.11: 3.5.9 is used, without MMLSpark; it needs a Java runtime",
        ),
        *(
            Curated(name, _torch(*versions), f"PyTorch {versions[0]} with torchvision")
            for name, versions in (
                ("AzureML-PyTorch-1.6-CPU", ("1.6.0", "0.7.0")),
                ("AzureML-PyTorch-1.6-GPU", ("1.6.0", "0.7.0")),
                ("AzureML-pytorch-1.7-ubuntu18.04-py37-cpu-inference", ("1.7.1", "0.8.2")),
                ("AzureML-pytorch-1.10-ubuntu18.04-py38-cuda11-gpu", ("1.10.0", "0.11.1")),
                ("AzureML-ACPT-pytorch-1.13-py38-cuda11.7-gpu", ("1.13.1", "0.14.1")),
            )
        ),
        *(
            Curated(name, (f"tensorflow=={version}",), f"TensorFlow {version}")
            for name, version in (
                ("AzureML-TensorFlow-2.3-CPU", "2.3.0"),
                ("AzureML-TensorFlow-2.3-GPU", "2.3.0"),
                ("AzureML-tensorflow-2.4-ubuntu18.04-py37-cpu-inference", "2.4.0"),
                ("AzureML-tensorflow-2.4-ubuntu18.04-py37-cuda11-gpu", "2.4.0"),
            )
        ),
    ]


#: The catalog, by name.
CURATED: dict[str, Curated] = {c.name: c for c in _entries()}
_BY_LOWER = {name.lower(): name for name in CURATED}


def is_curated(name: object) -> bool:
    """Whether ``name`` is a curated environment's (v1 compares names case-insensitively here too)."""
    return isinstance(name, str) and name.lower() in _BY_LOWER


def curated_names() -> list[str]:
    """Every curated name, sorted."""
    return sorted(CURATED, key=str.lower)


def curated_spec(name: str) -> dict[str, Any]:
    """The spec (as the registry stores specs) of the curated environment ``name``.

    Raises KeyError for a name that is not curated (callers check :func:`is_curated` first).
    """
    entry = CURATED[_BY_LOWER[name.lower()]]
    return {
        "name": entry.name,
        "version": CURATED_VERSION,
        "python_version": entry.python_version,
        "pip_packages": list(entry.pip_packages),
        "conda_packages": [],
        "pip_options": [],
        "channels": [],
        "user_managed_dependencies": False,
        "interpreter_path": None,
        "environment_variables": {},
        "docker_base_image": None,
        "curated": True,
        "description": entry.description,
        "note": entry.note,
    }
