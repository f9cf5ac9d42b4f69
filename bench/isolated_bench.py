"""``python -m bench.isolated_bench``: deploy-to-Healthy on a Ray node that shares no file system.

Example::

    .venv/bin/python -m bench.isolated_bench --out /tmp/iso-bench            # ~6 minutes
    .venv/bin/python -m bench.isolated_bench --smoke --repeats 1

A Ray cluster modelport owns (``AksCompute.provisioning_configuration()``) plus a worker node in
a mount namespace of its own (``tests.fixtures.isolated_node``: the workspace, the environment
cache and HOME are empty folders there), and one service (the tutorial's score.py and model, in an
environment pinning this scikit-learn and joblib) deployed through two compute targets attached to
that cluster: ``head`` (``replica_resources={"node:__internal_head__": 0.01}``: the head node,
the deploying machine) and ``isolated`` (``{"isolated": 1}``). Figures, deploy call to the first
200 (the median of ``--repeats``, alternating which goes first):

- ``first-head``: the first deploy (the environment built here, then on the head by Ray's uv);
- ``first-isolated``: the first deploy on the isolated node (its environment built there);
- ``head`` and ``isolated``: later deploys, each node's environment cached by Ray.

Issue 25's goal: ``isolated`` within 1.5x of ``head``. Writes ``isolated.json`` and ``isolated.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import requests

from bench.model import REPO, load_split, trained_model
from bench.run import _default_cache

SCORE = REPO / "examples" / "mnist" / "score.py"
HEAD_RESOURCE = {"node:__internal_head__": 0.01}


def _until_ok(url: str, body: bytes, headers: dict[str, str], timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.post(url, data=body, headers=headers, timeout=30).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.isolated_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--cache", type=Path, default=_default_cache())
    parser.add_argument("--smoke", action="store_true", help="the small model")
    parser.add_argument("--repeats", type=int, default=3, help="warm deploys per node")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="mp-ib-"))  # removed at the end, also on failure
    home, env_cache, user_home = root / "home", root / "envcache", root / "userhome"
    for folder in (home, env_cache, user_home):
        folder.mkdir()
    os.environ.update(MODELPORT_HOME=str(home), MODELPORT_ENV_CACHE=str(env_cache), HOME=str(user_home))
    try:
        return _run(args, home, [home, env_cache, user_home])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _environment() -> Any:
    import joblib
    import sklearn

    from modelport.core.conda_dependencies import CondaDependencies
    from modelport.core.environment import Environment

    env = Environment("bench-sk")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=[f"scikit-learn=={sklearn.__version__}", f"joblib=={joblib.__version__}"],
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
    )
    return env


def _run(args: argparse.Namespace, home: Path, hidden: list[Path]) -> int:
    from modelport.core.compute import AksCompute, ComputeTarget
    from modelport.core.model import InferenceConfig, Model
    from modelport.core.webservice import AksWebservice
    from modelport.deploy import cluster
    from modelport.workspace import Workspace
    from tests.fixtures import ISOLATED_RESOURCE, isolated_node

    model = trained_model(args.cache, args.smoke)
    x, _y = load_split(train=False)
    ws = Workspace.create("isobench")
    src = home / "src"
    src.mkdir()
    shutil.copy(SCORE, src / "score.py")
    registered = Model.register(ws, str(model.path), "sklearn_mnist")
    ic = InferenceConfig("score.py", source_directory=str(src), environment=_environment())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        config = AksWebservice.deploy_configuration(num_replicas=1, autoscale_enabled=False)
    one = json.dumps({"data": x[:1].tolist()}).encode()

    owner = ComputeTarget.create(ws, "owner", AksCompute.provisioning_configuration())
    record = cluster.load(ws, "owner")
    token = Path(str(record.token_file)).read_text()
    try:
        with isolated_node(record.address, token, hidden, num_cpus=1) as node:
            targets = {
                "head": ComputeTarget.attach(
                    ws,
                    "head",
                    AksCompute.attach_configuration(
                        address=record.address, token=token, replica_resources=HEAD_RESOURCE
                    ),
                ),
                "isolated": ComputeTarget.attach(
                    ws,
                    "isolated",
                    AksCompute.attach_configuration(
                        address=record.address, token=token, replica_resources={ISOLATED_RESOURCE: 1}
                    ),
                ),
            }

            def deploy(which: str, name: str) -> float:
                started = time.perf_counter()
                service = Model.deploy(ws, name, [registered], ic, config, deployment_target=targets[which])
                headers = {
                    "Authorization": f"Bearer {service.get_keys()[0]}",
                    "Content-Type": "application/json",
                }
                _until_ok(service.scoring_uri, one, headers)
                took = time.perf_counter() - started
                service.delete()
                print(f"[isolated-bench] {which} {name}: {took:.2f} s", flush=True)
                return round(took, 2)

            results: dict[str, Any] = {
                "model": model.kind,
                "isolated_node": node.node_id,
                "first-head": deploy("head", "first-head"),
                "first-isolated": deploy("isolated", "first-iso"),
                "head": [],
                "isolated": [],
            }
            for i in range(args.repeats):
                for which in ("head", "isolated") if i % 2 == 0 else ("isolated", "head"):
                    results[which].append(deploy(which, f"{which[:4]}-{i}"))
    finally:
        owner.delete()
    head, iso = float(np.median(results["head"])), float(np.median(results["isolated"]))
    results["ratio"] = round(iso / head, 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "isolated.json").write_text(json.dumps(results, indent=2))
    lines = [
        "| deploy to Healthy (first 200) | s |",
        "| --- | --- |",
        f"| first, head node (environment built here, then on the head) | {results['first-head']:.2f} |",
        f"| first, isolated node (environment built on the node) | {results['first-isolated']:.2f} |",
        f"| head node, warm (median of {len(results['head'])}: {results['head']}) | {head:.2f} |",
        f"| isolated node, warm (median of {len(results['isolated'])}: {results['isolated']}) | {iso:.2f} |",
        f"| isolated / head (goal <= 1.5) | {results['ratio']:.2f} |",
    ]
    (args.out / "isolated.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
