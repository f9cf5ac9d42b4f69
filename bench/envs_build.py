"""Build-to-Healthy for a NEW environment whose packages are already in the local package cache.

``python -m bench.envs_build [--repeats 5] [--packages scikit-learn==1.9.1 ...]``

Each measured run is the v1 flow a user runs after changing an environment: ``Model.deploy`` with
an Environment whose virtualenv does not exist yet, then ``wait_for_deployment()`` until Healthy
and one scoring call. Before each run the environment's virtualenv folder is deleted (so the
builder really creates a venv and installs into it), while uv's package cache and modelport's
other caches stay warm, as on a machine that has built environments before. The first run (which
fills the caches) is reported apart as ``first_s``; the figure is the median of the next runs.

Prints one JSON object: ``median_s``, every run's seconds, and the build's own seconds per run
(from the environment's ``modelport-env.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCORE = """\
import json
import os

import joblib
import numpy as np


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"))


def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    return model.predict(data).tolist()
"""


def _default_packages() -> list[str]:
    import joblib
    import numpy
    import sklearn

    return [
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={numpy.__version__}",
        f"joblib=={joblib.__version__}",
    ]


def measure(repeats: int, packages: list[str], workdir: Path) -> dict[str, Any]:
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    os.environ["MODELPORT_HOME"] = str(workdir / "home")
    os.environ["MODELPORT_ENV_CACHE"] = str(workdir / "envs")
    from modelport.core import Workspace
    from modelport.core.conda_dependencies import CondaDependencies
    from modelport.core.environment import Environment
    from modelport.core.model import InferenceConfig, Model
    from modelport.core.webservice import LocalWebservice
    from modelport.environments import EnvSpec, spec_key

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 4)), rng.integers(0, 2, 200)
    src = workdir / "src"
    src.mkdir()
    joblib.dump(LogisticRegression().fit(x, y), workdir / "model.pkl")
    (src / "score.py").write_text(SCORE)
    ws = Workspace.create("bench-envs")
    model = Model.register(ws, str(workdir / "model.pkl"), "bench-envs-model")
    env = Environment("bench-envs")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=packages)
    env_dir = workdir / "envs" / spec_key(EnvSpec.from_dict(env.to_spec()))
    config = InferenceConfig(entry_script="score.py", source_directory=str(src), environment=env)
    expected = LogisticRegression().fit(x, y).predict(x[:2]).tolist()
    runs: list[float] = []
    builds: list[float] = []
    for i in range(repeats + 1):
        shutil.rmtree(env_dir, ignore_errors=True)  # a new environment, every package in the cache
        start = time.perf_counter()
        service = Model.deploy(ws, f"bench-envs-{i}", [model], config, LocalWebservice.deploy_configuration())
        try:
            service.wait_for_deployment(timeout_sec=900)
            runs.append(time.perf_counter() - start)
            got = service.run(json.dumps({"data": x[:2].tolist()}))
            if got != expected:
                raise RuntimeError(f"run {i} answered {got!r}, expected {expected!r}")
        finally:
            service.delete()
        record = json.loads((env_dir / "modelport-env.json").read_text())
        builds.append(record["build_seconds"])
    measured = runs[1:]
    return {
        "what": "Model.deploy -> Healthy, new venv, warm package cache",
        "packages": packages,
        "cpus": os.cpu_count(),
        "first_s": round(runs[0], 2),
        "first_build_s": builds[0],
        "seconds": [round(t, 2) for t in measured],
        "build_seconds": builds[1:],
        "median_s": round(statistics.median(measured), 2),
        "median_build_s": round(statistics.median(builds[1:]), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.envs_build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="measured runs after the first (default 5)")
    parser.add_argument("--packages", nargs="+", help="pip pins (default: this scikit-learn, numpy, joblib)")
    parser.add_argument("--workdir", type=Path, help="kept after the run (default: a temporary folder)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="modelport-bench-envs-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = measure(args.repeats, args.packages or _default_packages(), workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
