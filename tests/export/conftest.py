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

from tests.fixtures import TUTORIAL_SCORE

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
            # All three formats from one export (one prepare, one lock), as a user would.
            started = time.monotonic()
            service.export(str(base / "all"), format=["kubernetes", "kserve", "kuberay"])
            seconds = {"all": time.monotonic() - started}
            folders = {fmt: base / "all" for fmt in ("kubernetes", "kserve", "kuberay")}
            yield Exported(ws, service, test_x, local, folders, seconds)
        finally:
            service.delete()


def ray_record(ws: object, source: str, name: str, settings: object, **changes: object) -> object:
    """A Ray service's record as the engine writes it for an AKS deployment (target ``ray``,
    compute type AKS, a Ray handle), made with the records API from the deployed ``source``
    service's models, inference config and environment: deploying on Ray needs a cluster (minutes
    here), and export reads only the record. Its handle's cluster address answers nothing; export
    never asks it."""
    import dataclasses

    from modelport.deploy import records

    base = records.load(ws, source)  # type: ignore[arg-type]
    record = dataclasses.replace(
        base,
        name=name,
        target="ray",
        spec=dataclasses.replace(
            base.spec,
            settings=dataclasses.replace(settings, compute_target="aks-cluster"),  # type: ignore[type-var]
        ),
        handle={
            "app": name,
            "compute": "aks-cluster",
            "workspace": str(ws.path),  # type: ignore[attr-defined]
            "address": "127.0.0.1:1",
            "http_port": 1,
            "root": base.bundle_dir,
            "interpreter": (base.handle or {}).get("interpreter"),
        },
        **changes,
    )
    records.claim(ws, record, overwrite=False)  # type: ignore[arg-type]
    records.save(ws, record)  # type: ignore[arg-type]
    return record
