"""Where deployed models live inside a service: ``<app root>/azureml-models/<name>/<version>/...``."""

from __future__ import annotations

import os
from pathlib import Path

from modelport.errors import ModelNotFound

MODELS_FOLDER = "azureml-models"


def _app_root() -> Path:
    value = os.environ.get("AML_APP_ROOT")
    return Path(value) if value else Path.cwd()


def _versions(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def get_model_path(model_name: str, version: int | None = None) -> str:
    """The path of a deployed model's file or folder, as a scoring script sees it.

    Looks in ``$AML_APP_ROOT/azureml-models/<model_name>/<version>/`` (the latest version when
    ``version`` is None). When that folder holds exactly one file or folder, that is returned
    (``.../sklearn_mnist/1/sklearn_mnist_model.pkl``); otherwise the version folder itself.

    >>> get_model_path("sklearn_mnist")  # doctest: +SKIP
    '/srv/app/azureml-models/sklearn_mnist/1/sklearn_mnist_model.pkl'

    Raises :class:`modelport.errors.ModelNotFound` when the model or version is not deployed here.
    """
    root = _app_root() / MODELS_FOLDER
    model_folder = root / model_name
    versions = _versions(model_folder)
    if not versions:
        raise ModelNotFound(model_name, version, detail=f"not deployed under {root}")
    chosen = versions[-1] if version is None else int(version)
    if chosen not in versions:
        have = ", ".join(str(v) for v in versions)
        raise ModelNotFound(model_name, chosen, detail=f"deployed versions: {have}")
    version_folder = model_folder / str(chosen)
    entries = _visible(version_folder)
    return str(entries[0] if len(entries) == 1 else version_folder)


def default_model_dir(app_root: Path) -> Path | None:
    """What ``AZUREML_MODEL_DIR`` means when no model dir was given, as v1 set it.

    One model deployed: ``azureml-models/<name>/<version>``; several: ``azureml-models``; none: None.
    """
    root = app_root / MODELS_FOLDER
    if not root.is_dir():
        return None
    found = [(name, v) for name in root.iterdir() if name.is_dir() for v in _versions(name)]
    if len(found) == 1:
        name, v = found[0]
        return name / str(v)
    return root
