"""``python -m bench.shortcut_bench``: a Ray service run in place vs shipped, on one owned cluster.

Example::

    .venv/bin/python -m bench.shortcut_bench --out /tmp/sc-bench        # ~5 minutes
    .venv/bin/python -m bench.shortcut_bench --smoke --repeats 1

A Ray cluster modelport owns (``AksCompute.provisioning_configuration()``, compute target
``owner``) and the same cluster attached as a second compute target (``shipped``, no
``replica_resources``). One service (the tutorial's score.py and model, in an environment pinning
this scikit-learn and joblib) deployed to each: through ``owner`` its replicas run in place (the
environment's interpreter built here, the bundle read where it is), through ``shipped`` they get
the bundle, modelport and the environment through Ray (docs/scale-out.md, "Which path a service
takes"). Figures, deploy call to the first 200:

- ``first-in-place`` / ``first-shipped``: the first deploy of each (environments built);
- ``in-place`` / ``shipped``: later deploys (median of ``--repeats``, alternating which goes first).

Writes ``shortcut.json`` and ``shortcut.md``.
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

from bench.isolated_bench import SCORE, _environment, _until_ok
from bench.model import REPO, load_split, trained_model
from bench.run import _default_cache


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.shortcut_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--cache", type=Path, default=_default_cache())
    parser.add_argument("--smoke", action="store_true", help="the small model")
    parser.add_argument("--repeats", type=int, default=3, help="warm deploys per path")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="mp-sc-"))  # removed at the end, also on failure
    home, env_cache = root / "home", root / "envcache"
    for folder in (home, env_cache):
        folder.mkdir()
    os.environ.update(MODELPORT_HOME=str(home), MODELPORT_ENV_CACHE=str(env_cache))
    try:
        return _run(args, home)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(args: argparse.Namespace, home: Path) -> int:
    from modelport.core.compute import AksCompute, ComputeTarget
    from modelport.core.model import InferenceConfig, Model
    from modelport.core.webservice import AksWebservice
    from modelport.deploy import cluster
    from modelport.workspace import Workspace

    model = trained_model(args.cache, args.smoke)
    x, _y = load_split(train=False)
    ws = Workspace.create("scbench")
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
        targets = {
            "in-place": owner,
            "shipped": ComputeTarget.attach(
                ws, "shipped", AksCompute.attach_configuration(address=record.address, token=token)
            ),
        }

        def deploy(which: str, name: str) -> float:
            started = time.perf_counter()
            service = Model.deploy(ws, name, [registered], ic, config, deployment_target=targets[which])
            headers = {"Authorization": f"Bearer {service.get_keys()[0]}", "Content-Type": "application/json"}
            _until_ok(service.scoring_uri, one, headers)
            took = time.perf_counter() - started
            assert service._record.handle["in_place"] is (which == "in-place"), service._record.handle
            service.delete()
            print(f"[shortcut-bench] {which} {name}: {took:.2f} s", flush=True)
            return round(took, 2)

        results: dict[str, Any] = {
            "model": model.kind,
            "first-in-place": deploy("in-place", "first-inplace"),
            "first-shipped": deploy("shipped", "first-shipped"),
            "in-place": [],
            "shipped": [],
        }
        for i in range(args.repeats):
            for which in ("in-place", "shipped") if i % 2 == 0 else ("shipped", "in-place"):
                results[which].append(deploy(which, f"{which[:4]}-{i}"))
    finally:
        owner.delete()
    here, shipped = float(np.median(results["in-place"])), float(np.median(results["shipped"]))
    results["ratio"] = round(shipped / here, 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shortcut.json").write_text(json.dumps(results, indent=2))
    lines = [
        "| deploy to Healthy (first 200), one owned cluster | s |",
        "| --- | --- |",
        f"| first, in place (environment + Ray built here) | {results['first-in-place']:.2f} |",
        f"| first, shipped (environment built by Ray's uv) | {results['first-shipped']:.2f} |",
        f"| in place, warm (median of {len(results['in-place'])}: {results['in-place']}) | {here:.2f} |",
        f"| shipped, warm (median of {len(results['shipped'])}: {results['shipped']}) | {shipped:.2f} |",
        f"| shipped / in place | {results['ratio']:.2f} |",
    ]
    (args.out / "shortcut.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
