"""``python -m bench.coldstart_ab``: cold starts of two source trees of modelport, side by side.

For a change that may have slowed starting up (issue 19 compares the commit before the engine
restructure with today's): each tree gets the bench's own kind of venv (the tree installed
editable, its runtime dependencies, this scikit-learn; bytecode compiled), then, alternating which
tree goes first in each round:

- ``server``: ``python -m modelport.server --entry-script score.py --model-dir DIR --port N``, from
  launch to the first correct 200 (as ``bench.run``'s cold start);
- ``serve``: the same through the CLI, ``modelport serve ...``;
- ``deploy``: ``Model.deploy`` + ``wait_for_deployment`` of the tutorial's ``score.py`` with a cached
  environment, run by the tree's own ``bench.deploy.measure_deploy`` in the tree's ``.venv``
  (``scripts/setup.sh``), each tree with its own environment cache (an environment imports the
  source tree of whoever built it). Two deployments per round, the first after the initial build.

Example::

    .venv/bin/python -m bench.coldstart_ab --tree old=/work/wt/perf-old --tree new=. --rounds 7

Prints each measurement and the medians per tree, and writes ``coldstart_ab.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import psutil

from bench import procs
from bench.envs import BuiltEnv, ensure_env
from bench.measure import PROBE_ROWS, Inputs, Plan, _cold_start
from bench.model import REPO, load_split, trained_model
from bench.run import _default_cache, _machine
from bench.servers import SERVERS, _base_env, _v1_layout

KINDS = ("server", "serve", "deploy")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.coldstart_ab", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--tree", action="append", required=True, help="NAME=PATH of a source tree (twice)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"some of {','.join(KINDS)}")
    parser.add_argument("--cache", type=Path, default=_default_cache())
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    args.trees = {}
    for spec in args.tree:
        name, _, path = spec.partition("=")
        if not path or not (Path(path) / "modelport").is_dir():
            parser.error(f"--tree {spec!r}: expected NAME=PATH of a modelport source tree")
        args.trees[name] = Path(path).resolve()
    args.kinds = [k for k in args.kinds.split(",") if k]
    if unknown := set(args.kinds) - set(KINDS):
        parser.error(f"unknown kind(s) {sorted(unknown)}")
    return args


def tree_env(cache: Path, name: str, tree: Path, logs: Path) -> BuiltEnv:
    """The bench's kind of venv for ``tree``: editable, its runtime dependencies, this scikit-learn."""
    import sklearn

    deps = list(tomllib.loads((tree / "pyproject.toml").read_text())["project"]["dependencies"])
    requirements = ["-e", str(tree), *deps, f"scikit-learn=={sklearn.__version__}", "joblib", "numpy"]
    return ensure_env(cache, f"modelport-{name}", requirements, logs / f"install-{name}.log")


def _git(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return done.stdout.strip() or "?"


def _server_start(
    env: BuiltEnv, cli: bool, model: Path, inputs: Inputs, plan: Plan, workdir: Path, logs: Path, tag: str
) -> tuple[float, float]:
    """Seconds from launch to the first correct answer, and the CPU seconds used by then."""
    app, model_dir = _v1_layout(workdir / tag, model)
    port = procs.free_port()
    head = [str(env.bin("modelport")), "serve"] if cli else [str(env.python), "-m", "modelport.server"]
    cmd = [*head, "--entry-script", "score.py", "--model-dir", str(model_dir), "--port", str(port)]
    proc = procs.start(cmd, app, _base_env(), logs / f"{tag}.log")
    try:
        seconds = float(_cold_start(proc, port, SERVERS["modelport"], inputs, plan)["seconds"])
        return seconds, _cpu_s(proc)
    finally:
        procs.stop(proc)


def _cpu_s(proc: procs.ServerProcess) -> float:
    """CPU seconds (user + system) the server's processes have used: what starting cost, which a
    busy machine changes much less than the wall-clock time to the first answer."""
    total = 0.0
    for p in proc.tree():
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


_DEPLOY = """
import json, sys
from pathlib import Path
import numpy as np
from bench.deploy import measure_deploy
probe = json.loads(Path(sys.argv[3]).read_text())
cache, model = Path(sys.argv[1]), Path(sys.argv[2])
result = measure_deploy(cache, model, np.array(probe["x"]), probe["expected"], repeats=1)
print("DEPLOY_JSON " + json.dumps(result))
"""


def _deploy(tree: Path, cache: Path, model: Path, probe: Path) -> list[float]:
    """Two deployments with the tree's own ``.venv`` and ``bench.deploy``: both seconds to Healthy."""
    python = tree / ".venv" / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"{python} is missing: run scripts/setup.sh in {tree}")
    env = {k: v for k, v in _base_env().items() if not k.startswith("MODELPORT_")}
    done = subprocess.run(
        [str(python), "-c", _DEPLOY, str(cache), str(model), str(probe)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("DEPLOY_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"deploy in {tree} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    result = json.loads(line.removeprefix("DEPLOY_JSON "))
    return [float(result["first_s"]), *map(float, result["seconds"])]


def main(argv: list[str] | None = None) -> int:
    procs.install_cleanup()
    args = parse_args(argv)
    out: Path = args.out.resolve()
    logs = out / "logs-coldstart-ab"
    logs.mkdir(parents=True, exist_ok=True)
    envs = {name: tree_env(args.cache, name, tree, logs) for name, tree in args.trees.items()}
    model = trained_model(args.cache, smoke=False)
    x_test, y_test = load_split(train=False)
    import joblib

    x = x_test[:PROBE_ROWS]
    inputs = Inputs(x, y_test[:PROBE_ROWS], joblib.load(model.path).predict(x))
    plan = Plan.make(False, "wrk", None, None)
    workdir = Path(tempfile.mkdtemp(prefix="modelport-coldstart-ab-"))
    probe = workdir / "probe.json"
    probe.write_text(json.dumps({"x": x.tolist(), "expected": inputs.expected.tolist()}))
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": ["python", "-m", "bench.coldstart_ab", *(argv if argv is not None else sys.argv[1:])],
        "machine": _machine(),
        "trees": {name: {"path": str(tree), "git": _git(tree)} for name, tree in args.trees.items()},
        "runs": {name: {kind: [] for kind in args.kinds} for name in args.trees},
        "loadavg": [],
    }
    names = list(args.trees)
    try:
        if "deploy" in args.kinds:  # builds each tree's environment once, not counted
            for name in names:
                print(f"[coldstart_ab] {name}: first deployment (builds its environment)", flush=True)
                _deploy(args.trees[name], args.cache / f"coldstart-{name}", model.path, probe)
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            results["loadavg"].append(round(os.getloadavg()[0], 2))
            for kind in args.kinds:
                for name in order:
                    tag = f"{name}-{kind}-{r}"
                    if kind == "deploy":
                        got = _deploy(args.trees[name], args.cache / f"coldstart-{name}", model.path, probe)
                        shown = ", ".join(f"{s:.3f}" for s in got)
                    else:
                        wall, cpu = _server_start(
                            envs[name], kind == "serve", model.path, inputs, plan, workdir, logs, tag
                        )
                        got = [wall]
                        results["runs"][name].setdefault(f"{kind}_cpu", []).append(cpu)
                        shown = f"{wall:.3f} (CPU {cpu:.3f})"
                    results["runs"][name][kind].extend(got)
                    print(f"[coldstart_ab] round {r + 1}/{args.rounds} {kind} {name}: {shown} s", flush=True)
                    time.sleep(0.5)
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        results["machine"]["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    results["medians"] = {
        name: {kind: statistics.median(v) for kind, v in kinds.items() if v}
        for name, kinds in results["runs"].items()
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "coldstart_ab.json").write_text(json.dumps(results, indent=2) + "\n")
    print(printable(results))
    return 0


def printable(results: dict[str, Any]) -> str:
    """One line per kind: each tree's median and its runs."""
    lines = [f"{results['date']}, load average per round {results['loadavg']}"]
    for name, info in results["trees"].items():
        lines.append(f"{name}: {info['path']} at {info['git']}")
    every = [*KINDS, *(f"{k}_cpu" for k in KINDS)]
    kinds = [k for k in every if any(results["runs"][n].get(k) for n in results["runs"])]
    for kind in kinds:
        for name, runs in results["runs"].items():
            each = ", ".join(f"{s:.3f}" for s in runs[kind])
            lines.append(f"{kind:10s} {name:6s} median {results['medians'][name][kind]:.3f} s ({each})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
