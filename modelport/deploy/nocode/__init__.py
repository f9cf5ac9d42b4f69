"""No-code deployment: ``Model.deploy(ws, name, [model])`` with no inference config, as v1 did for
scikit-learn (and ONNX) models: a built-in scoring script, an environment for the framework, and
a swagger whose example comes from the model's sample datasets.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.spec import DeploymentSpec
from modelport.environments import EnvSpec
from modelport.errors import InvalidInputError
from modelport.registry.models import ModelRecord

__all__ = ["spec_for"]

SCRIPTS = {"scikitlearn": "score_sklearn.py", "onnx": "score_onnx.py"}
PACKAGES = {"scikitlearn": ("scikit-learn", "joblib", "pandas"), "onnx": ("onnxruntime",)}


def _installed(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _environment(framework: str, version: str | None) -> EnvSpec | None:
    """None (this interpreter) when it has the framework at the model's version; else a spec of
    an environment with it (built like any environment: the user's Python needs none of it)."""
    packages = PACKAGES[framework]
    main = packages[0]
    installed = _installed(main)
    # scikit-learn's framework_version is scikit-learn's; ONNX's names the ONNX format, not onnxruntime.
    pinned = version if framework == "scikitlearn" else None
    if installed is not None and pinned in (None, installed) and all(_installed(p) for p in packages):
        return None
    pins = [f"{main}=={pinned}" if pinned else main, *packages[1:]]
    return EnvSpec(
        name=f"nocode-{framework}",
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        pip_packages=tuple(pins),
    )


def spec_for(
    models: list[ModelRecord],
    sample_input: list[Any] | None,
    sample_output: list[Any] | None,
    folder: Path,
    settings: DeploymentSettings,
) -> DeploymentSpec:
    """The spec of a no-code deployment of ``models`` (one scikit-learn or ONNX model) with
    ``settings``, its built-in script written into ``folder`` (kept: ``reload()`` reads it again).

    ``sample_input``/``sample_output``: a few rows of the model's sample datasets, for the swagger's
    example (a made-up row when there are none)."""
    if len(models) != 1:
        raise InvalidInputError(
            "no-code deployment takes exactly one model; give an InferenceConfig for several"
        )
    model = models[0]
    framework = (model.framework or "").lower()
    if framework not in SCRIPTS:
        raise InvalidInputError(
            f"model {model.id} has no inference config and its framework ({model.framework or 'none'}) "
            "has no built-in scoring script: register it with model_framework=Model.Framework.SCIKITLEARN "
            "or ONNX, or give an InferenceConfig(entry_script=..., environment=...)"
        )
    source = Path(folder)
    source.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).with_name(SCRIPTS[framework]), source / "score.py")
    samples = {"input": sample_input or [[0.0]], "output": sample_output or [0]}
    (source / "samples.json").write_text(json.dumps(samples, default=str))
    return DeploymentSpec(
        models=(model.id,),
        entry_script="score.py",
        source_directory=str(source.resolve()),
        environment=_environment(framework, model.framework_version),
        settings=settings,
        description=f"no-code deployment of {model.id} ({model.framework})",
    )
