"""v1's curated environments, as a built-in catalog of package pins that install on this Python.

Azure ML gave every workspace "curated" environments (``AzureML-Minimal``, ``AzureML-Tutorial``,
``AzureML-sklearn-1.0-ubuntu20.04-py38-cpu``, ...): Docker images with a framework preinstalled,
used by name without registering anything. Locally an environment is a virtualenv, so each name
maps to the framework its name says, pinned to versions that install on Python 3.11 or later
(checked with ``uv pip compile``). Where the version in the name has no wheel for this Python
(scikit-learn 0.24 and 1.0, TensorFlow 2.3, PyTorch 1.x), the oldest release of that framework
that does install stands in, and the entry's ``note`` says so; ``-gpu`` and ``cuda`` names get
the same packages as their CPU twins (PyPI's builds, which use a GPU when one is there).

Example::

    >>> spec = curated_spec("AzureML-sklearn-1.0-ubuntu20.04-py38-cpu")
    >>> spec["pip_packages"][:1]
    ['scikit-learn==1.1.3']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CURATED", "CURATED_VERSION", "Curated", "curated_names", "curated_spec", "is_curated"]

#: The version every catalog entry reports (a local catalog holds one version of each).
CURATED_VERSION = "1"


@dataclass(frozen=True)
class Curated:
    """One catalog entry: what v1 called it, what it holds here, and how it differs from v1."""

    name: str
    pip_packages: tuple[str, ...]
    description: str
    note: str = ""


_SKLEARN_15 = ("scikit-learn==1.5.2", "scipy==1.14.1", "numpy==1.26.4", "pandas==2.2.3", "joblib==1.4.2")
# scikit-learn 0.2x and 1.0 publish no wheel for Python 3.11; 1.1.3 is the oldest that does.
_SKLEARN_OLD = ("scikit-learn==1.1.3", "scipy==1.11.4", "numpy==1.26.4", "pandas==2.2.3", "joblib==1.4.2")
_OLD_SKLEARN_NOTE = "scikit-learn {asked} has no wheel for Python 3.11+: 1.1.3, the oldest that has, is used"
_TORCH = ("torch==2.5.1", "torchvision==0.20.1", "numpy==1.26.4", "pillow==11.0.0")
_TORCH_NOTE = "PyTorch {asked} has no wheel for Python 3.11+: 2.5.1 is used"
_TF = ("tensorflow==2.15.1", "numpy==1.26.4")
_TF_NOTE = "TensorFlow {asked} has no wheel for Python 3.11+: 2.15.1 (the last with Keras 2) is used"


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
            "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu",
            _SKLEARN_OLD,
            "scikit-learn 1.0 (1.1.3 here) with pandas",
            _OLD_SKLEARN_NOTE.format(asked="1.0"),
        ),
        Curated(
            "AzureML-sklearn-0.24-ubuntu18.04-py37-cpu",
            _SKLEARN_OLD,
            "scikit-learn 0.24 (1.1.3 here) with pandas",
            _OLD_SKLEARN_NOTE.format(asked="0.24"),
        ),
        Curated(
            "AzureML-sklearn-0.24.1-ubuntu18.04-py37-cpu-inference",
            _SKLEARN_OLD,
            "scikit-learn 0.24.1 (1.1.3 here), for inference",
            _OLD_SKLEARN_NOTE.format(asked="0.24.1"),
        ),
        Curated(
            "AzureML-Scikit-learn-0.20.3",
            _SKLEARN_OLD,
            "scikit-learn 0.20.3 (1.1.3 here)",
            _OLD_SKLEARN_NOTE.format(asked="0.20.3"),
        ),
        Curated(
            "AzureML-lightgbm-3.2-ubuntu18.04-py37-cpu",
            ("lightgbm==3.2.1", *_SKLEARN_OLD),
            "LightGBM 3.2 with scikit-learn and pandas",
        ),
        Curated(
            "AzureML-xgboost-0.9-ubuntu18.04-py37-cpu-inference",
            ("xgboost==1.7.6", *_SKLEARN_OLD),
            "XGBoost 0.9 (1.7.6 here), for inference",
            "xgboost 0.90 has no wheel for Python 3.11+: 1.7.6 is used",
        ),
        Curated(
            "AzureML-onnxruntime-1.6-ubuntu18.04-py37-cpu-inference",
            ("onnxruntime==1.20.1", "numpy==1.26.4"),
            "ONNX Runtime 1.6 (1.20.1 here), for inference",
            "onnxruntime 1.6 has no wheel for Python 3.11+: 1.20.1 is used",
        ),
        *(
            Curated(name, _TORCH, f"PyTorch {asked} (2.5.1 here)", _TORCH_NOTE.format(asked=asked))
            for name, asked in (
                ("AzureML-PyTorch-1.6-CPU", "1.6"),
                ("AzureML-PyTorch-1.6-GPU", "1.6"),
                ("AzureML-pytorch-1.7-ubuntu18.04-py37-cpu-inference", "1.7"),
                ("AzureML-pytorch-1.10-ubuntu18.04-py38-cuda11-gpu", "1.10"),
                ("AzureML-ACPT-pytorch-1.13-py38-cuda11.7-gpu", "1.13"),
            )
        ),
        *(
            Curated(name, _TF, f"TensorFlow {asked} (2.15.1 here)", _TF_NOTE.format(asked=asked))
            for name, asked in (
                ("AzureML-TensorFlow-2.3-CPU", "2.3"),
                ("AzureML-TensorFlow-2.3-GPU", "2.3"),
                ("AzureML-tensorflow-2.4-ubuntu18.04-py37-cpu-inference", "2.4"),
                ("AzureML-tensorflow-2.4-ubuntu18.04-py37-cuda11-gpu", "2.4"),
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
        "python_version": None,
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
