"""Deploy-to-Healthy: ``Model.deploy(...)`` + ``wait_for_deployment()`` with a cached environment.

The tutorial's flow in a throw-away workspace: register the model, an Environment pinning this
scikit-learn and joblib (its virtualenv is built once, under ``<cache>/envs``, and reused: that is
the "cached environment"), deploy ``score.py`` with ``AciWebservice.deploy_configuration``, wait
until Healthy, check one answer, delete. The first deployment (which may build the environment) is
not counted; the figure is the median of the next ``repeats``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.servers import SCORE_SCRIPT


def measure_deploy(
    cache: Path, model_path: Path, probe: np.ndarray, expected: list[int], repeats: int = 3
) -> dict[str, Any]:
    """Seconds from ``Model.deploy`` to Healthy, each deployment's, and what they did."""
    import joblib
    import sklearn

    saved = {k: os.environ.get(k) for k in ("MODELPORT_HOME", "MODELPORT_ENV_CACHE")}
    home = Path(tempfile.mkdtemp(prefix="modelport-bench-deploy-"))
    os.environ["MODELPORT_HOME"] = str(home)
    os.environ["MODELPORT_ENV_CACHE"] = str(cache / "envs")
    from modelport.core import Workspace
    from modelport.core.conda_dependencies import CondaDependencies
    from modelport.core.environment import Environment
    from modelport.core.model import InferenceConfig, Model
    from modelport.core.webservice import AciWebservice

    try:
        ws = Workspace.create("bench")
        model = Model.register(ws, str(model_path), "sklearn_mnist")
        env = Environment("bench-sklearn")
        env.python.conda_dependencies = CondaDependencies.create(
            pip_packages=[f"scikit-learn=={sklearn.__version__}", f"joblib=={joblib.__version__}"],
            python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        )
        src = home / "src"
        src.mkdir()
        shutil.copyfile(SCORE_SCRIPT, src / "score.py")
        config = InferenceConfig(entry_script="score.py", source_directory=str(src), environment=env)
        aci = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1)
        times: list[float] = []
        first: float | None = None
        for i in range(repeats + 1):
            start = time.perf_counter()
            service = Model.deploy(ws, f"bench-svc-{i}", [model], config, aci)
            try:
                service.wait_for_deployment(timeout_sec=900)
                took = time.perf_counter() - start
                got = service.run(input_data=probe)
                if [int(v) for v in got] != expected:
                    raise RuntimeError(f"deployment {i} answered {got}, expected {expected}")
            finally:
                service.delete()
            if i == 0:
                first = took
            else:
                times.append(took)
        return {"seconds": times, "median_s": statistics.median(times), "first_s": first, "repeats": repeats}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(home, ignore_errors=True)
