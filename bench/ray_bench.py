"""``python -m bench.ray_bench``: modelport on Ray vs a bare Ray Serve deployment vs the local target.

Example::

    .venv/bin/python -m bench.ray_bench --out /tmp/ray-bench            # ~4 minutes
    .venv/bin/python -m bench.ray_bench --smoke --load-seconds 2

One run, side by side, with the tutorial's model (trained once and cached like bench.run's):

- ``modelport-ray``: ``Model.deploy(..., AksWebservice.deploy_configuration(num_replicas=1,
  auth_enabled=False), deployment_target=aks)`` on a Ray cluster this script starts;
- ``ray-serve``: the anchor any Ray user would write, a ``@serve.deployment`` whose ``__call__``
  reads ``{"data": rows}`` with ``await request.json()`` and returns ``model.predict(...).tolist()``,
  on the same cluster and the same HTTP proxy;
- ``modelport-local``: the same model and score.py on the local target (one worker).

Figures: cold start to Healthy (deploy call to the first 200; the median of ``--repeats`` of each,
alternating which goes first), the 10,000-row request (seconds,
accuracy), single-row req/s and p99 at c=1/8/64 (``bench.load``: wrk if installed, else asyncio),
and the serving processes' RSS. Writes ``ray.json`` and ``ray.md`` into ``--out``.
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
import psutil
import requests

from bench import load
from bench.model import REPO, load_split, trained_model
from bench.run import _default_cache

SCORE = REPO / "examples" / "mnist" / "score.py"
LEVELS = (1, 8, 64)


class BareServe:
    """The anchor: a plain Ray Serve deployment of the model (what a Ray user writes)."""

    def __init__(self, model_path: str) -> None:
        import joblib

        self.model = joblib.load(model_path)

    async def __call__(self, request: Any) -> Any:
        data = np.array((await request.json())["data"])
        return self.model.predict(data).tolist()


def _until_ok(url: str, body: bytes, timeout: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            r = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
            if r.status_code == 200:
                return time.perf_counter() - started
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout} s")


def _rss_mb(marker: str) -> float:
    total = 0
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(proc.info.get("cmdline") or []):
                total += proc.memory_info().rss
        except psutil.Error:
            pass
    return round(total / 2**20, 1)


def _measure(
    name: str, url: str, cold_s: float, x: np.ndarray, y: np.ndarray, args: argparse.Namespace, rss: float
) -> dict[str, Any]:
    from urllib.parse import urlparse

    body = json.dumps({"data": x.tolist()}).encode()
    took = []
    accuracy = 0.0
    retried = 0
    for _ in range(args.repeats):
        for _attempt in range(4):  # a 503 says "retry" (Retry-After); a client does
            started = time.perf_counter()
            r = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=300)
            if r.status_code != 503:
                break
            print(f"[ray-bench] {name}: 503 on the big request, retrying: {r.text[:200]}", flush=True)
            retried += 1
            time.sleep(1)
        took.append(time.perf_counter() - started)
        r.raise_for_status()
        accuracy = float(np.mean(np.array(r.json()) == y))
    parsed = urlparse(url)
    one = json.dumps({"data": x[:1].tolist()}).encode()
    tool = load.tool_name("auto")
    levels = {}
    for c in LEVELS:
        result = load.run_level(tool, int(parsed.port or 80), parsed.path, one, c, args.load_seconds)
        levels[c] = result.to_json()
        print(f"[ray-bench] {name} c={c}: {result.rps:.0f} req/s, p99 {result.p99_ms:.1f} ms", flush=True)
    return {
        "cold_start_s": round(cold_s, 2),
        "big_request_s": round(float(np.median(took)), 3),
        "rows": len(x),
        "accuracy": round(accuracy, 4),
        "big_request_503_retries": retried,
        "levels": levels,
        "rss_mb": rss,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ray_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--cache", type=Path, default=_default_cache())
    parser.add_argument("--smoke", action="store_true", help="the small model")
    parser.add_argument("--load-seconds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="10k-row requests and cold starts per server")
    parser.add_argument(
        "--ingress", choices=("haproxy", "proxy"), default="haproxy", help="the Ray cluster's HTTP ingress"
    )
    args = parser.parse_args(argv)

    from modelport.core.model import InferenceConfig, Model
    from modelport.workspace import Workspace

    model = trained_model(args.cache, args.smoke)
    x, y = load_split(train=False)
    home = Path(tempfile.mkdtemp(prefix="mp-rb-"))  # removed at the end, also on failure
    os.environ["MODELPORT_HOME"] = str(home)
    ws = Workspace.create("raybench", path=home / "ws")
    src = home / "src"
    src.mkdir()
    shutil.copy(SCORE, src / "score.py")
    registered = Model.register(ws, str(model.path), "sklearn_mnist")
    ic = InferenceConfig("score.py", source_directory=str(src))
    try:
        return _compare(args, ws, registered, ic, x, y, model.kind, str(model.path))
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _compare(
    args: argparse.Namespace,
    ws: Any,
    registered: Any,
    ic: Any,
    x: np.ndarray,
    y: np.ndarray,
    kind: str,
    model_path: str,
) -> int:
    from ray import serve

    from modelport.core.compute import AksCompute, ComputeTarget
    from modelport.core.model import Model
    from modelport.core.webservice import AksWebservice, LocalWebservice
    from modelport.deploy import cluster

    results: dict[str, Any] = {"model": kind, "load_tool": load.tool_name("auto"), "servers": {}}
    aks = ComputeTarget.create(ws, "aks", AksCompute.provisioning_configuration(ingress=args.ingress))
    record = cluster.load(ws, "aks")
    results["ingress"] = args.ingress
    one = json.dumps({"data": x[:1].tolist()}).encode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        config = AksWebservice.deploy_configuration(
            num_replicas=1, auth_enabled=False, autoscale_enabled=False
        )

    def modelport_ray(name: str) -> tuple[Any, float]:
        started = time.perf_counter()
        service = Model.deploy(ws, name, [registered], ic, config, deployment_target=aks)
        _until_ok(service.scoring_uri, one)
        return service, time.perf_counter() - started

    def bare(name: str, runtime_env: dict[str, Any] | None = None) -> tuple[str, float]:
        started = time.perf_counter()
        options = {"ray_actor_options": {"runtime_env": runtime_env}} if runtime_env else {}
        app = serve.deployment(BareServe, name="bare", **options).bind(model_path)
        serve.run(app, name=name, route_prefix=f"/{name}", blocking=False)
        url = f"http://127.0.0.1:{record.http_port}/{name}"
        _until_ok(url, one)
        return url, time.perf_counter() - started

    try:
        # Cold starts: several of each, alternating which goes first (the first deployment on a
        # new cluster is slower, whoever it is), then the medians.
        # ray-serve-env: the bare deployment in an interpreter of its own (runtime_env
        # py_executable, as modelport runs every replica in its service's environment): Ray starts
        # a worker process for it instead of taking one of the workers it keeps started.
        colds: dict[str, list[float]] = {"modelport-ray": [], "ray-serve": [], "ray-serve-env": []}
        order = list(colds)
        for i in range(args.repeats):
            for which in order if i % 2 == 0 else order[::-1]:
                if which == "modelport-ray":
                    service, took = modelport_ray(f"mp-cold{i}")
                    service.delete()
                else:
                    env = {"py_executable": sys.executable} if which == "ray-serve-env" else None
                    _url, took = bare(f"{which}-cold{i}", env)
                    serve.delete(f"{which}-cold{i}")
                colds[which].append(round(took, 2))
                print(f"[ray-bench] {which} cold start {took:.2f} s", flush=True)
        results["cold_starts_s"] = colds

        service, _took = modelport_ray("mp-ray")
        results["servers"]["modelport-ray"] = _measure(
            "modelport-ray",
            service.scoring_uri,
            float(np.median(colds["modelport-ray"])),
            x,
            y,
            args,
            _rss_mb("ServeReplica:mp-ray:"),
        )
        service.delete()

        url, _took = bare("bare")
        results["servers"]["ray-serve"] = _measure(
            "ray-serve", url, float(np.median(colds["ray-serve"])), x, y, args, _rss_mb("ServeReplica:bare:")
        )
        serve.delete("bare")
    finally:
        aks.delete()
    started = time.perf_counter()
    local = Model.deploy(ws, "mp-local", [registered], ic, LocalWebservice.deploy_configuration())
    _until_ok(local.scoring_uri, one)
    cold = time.perf_counter() - started
    pids = local.serialize()["processes"]
    rss = round(sum(psutil.Process(p).memory_info().rss for p in pids if psutil.pid_exists(p)) / 2**20, 1)
    results["servers"]["modelport-local"] = _measure(
        "modelport-local", local.scoring_uri, cold, x, y, args, rss
    )
    local.delete()

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ray.json").write_text(json.dumps(results, indent=2))
    lines = [
        "| server | cold start (s) | 10k rows (s) | accuracy | c=1 req/s (p99 ms) | c=8 req/s (p99 ms) "
        "| c=64 req/s (p99 ms) | RSS (MB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results["servers"].items():
        cells = [f"{r['levels'][c]['rps']:.0f} ({r['levels'][c]['p99_ms']:.0f})" for c in LEVELS]
        lines.append(
            f"| {name} | {r['cold_start_s']} | {r['big_request_s']} | {r['accuracy']} | "
            + " | ".join(cells)
            + f" | {r['rss_mb']} |"
        )
    lines += ["", "| cold start, median (runs) | s |", "| --- | --- |"]
    for name, runs in results["cold_starts_s"].items():
        lines.append(f"| {name} | {float(np.median(runs)):.2f} ({', '.join(f'{r:.2f}' for r in runs)}) |")
    (args.out / "ray.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
