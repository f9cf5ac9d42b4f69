"""One real service (the digits model, its own environment, the local target) exported in every
format, shared by the export tests; deleted at the end."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from tests.server.conftest import TUTORIAL_SCORE

SERVICE = "digits-export"


@dataclass
class Exported:
    ws: object
    service: object
    test_x: np.ndarray
    local_predictions: list[int]
    folders: dict[str, Path]
    seconds: dict[str, float]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    import time

    from modelport.core.conda_dependencies import CondaDependencies
    from modelport.core.environment import Environment
    from modelport.core.model import InferenceConfig, Model
    from modelport.core.webservice import LocalWebservice
    from modelport.workspace import Workspace

    base = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELPORT_HOME", str(base / "home"))
        mp.setenv("MODELPORT_ENV_CACHE", str(tmp_path_factory.getbasetemp() / "export-envcache"))
        x, y = load_digits(return_X_y=True)
        clf = LogisticRegression(max_iter=300).fit(x[:1200] / 16.0, y[:1200])
        (base / "model").mkdir()
        joblib.dump(clf, base / "model" / "sklearn_mnist_model.pkl")
        ws = Workspace.create("exportws")
        model = Model.register(ws, base / "model" / "sklearn_mnist_model.pkl", "sklearn_mnist")
        env = Environment("sk-env")
        env.python.conda_dependencies = CondaDependencies.create(
            pip_packages=[f"scikit-learn=={sklearn.__version__}", f"joblib=={joblib.__version__}"],
            python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        )
        config = InferenceConfig(entry_script=str(TUTORIAL_SCORE), environment=env)
        service = Model.deploy(ws, SERVICE, [model], config, LocalWebservice.deploy_configuration())
        try:
            service.wait_for_deployment()
            test_x = x[1200:1210] / 16.0
            import json

            local = service.run(json.dumps({"data": test_x.tolist()}))
            folders, seconds = {}, {}
            for fmt in ("kubernetes", "kserve", "kuberay"):
                started = time.monotonic()
                service.export(str(base / fmt), format=fmt)
                seconds[fmt] = time.monotonic() - started
                folders[fmt] = base / fmt
            yield Exported(ws, service, test_x, local, folders, seconds)
        finally:
            service.delete()
