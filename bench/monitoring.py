"""``python -m bench.monitoring``: what model data collection and drift cost (issue 24's Speed).

Example::

    .venv/bin/python -m bench.monitoring                      # ~4 minutes on 2 cores
    .venv/bin/python -m bench.monitoring --smoke --out /tmp/bench-monitoring

1. **Collection on vs off.** The tutorial's model behind ``bench/scripts/score_collect.py`` (the
   tutorial's score.py plus v1's ``ModelDataCollector`` for inputs and predictions), served twice
   by ``python -m modelport.server``: once collecting (``model_data`` in its settings), once not
   (``collect()`` then does nothing, as in v1). Single-row requests at 64 connections, in
   interleaved rounds (off, on, on, off, ...) so both see the same machine; the medians of the
   rounds are compared. Goal: throughput on >= 0.95x off, p99 on <= 1.1x off.
2. **Drift.** 100,000 collected rows of 784 pixels (the 10,000 MNIST test images ten times,
   written by the real collector) against the 60,000 training images, through
   ``DataDriftDetector.run``: the first run (which also profiles the baseline) and a second one
   (baseline profile kept), for ``--drift-runs`` new detectors; medians of wall and CPU seconds.
   Goal: <= 10 s on 2 cores.

Results: ``monitoring.json`` and ``monitoring.md`` in ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests

from bench import load, procs
from bench.model import MODEL_FILE, REPO, load_split, trained_model

SCRIPT = Path(__file__).resolve().parent / "scripts" / "score_collect.py"
PIXELS = [f"pixel{i}" for i in range(784)]
GOALS = {"rps_ratio_min": 0.95, "p99_ratio_max": 1.1, "drift_seconds_max": 10.0}


def _cache() -> Path:
    if "MODELPORT_BENCH_CACHE" in os.environ:
        return Path(os.environ["MODELPORT_BENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelport-bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.monitoring", description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="small model, 2-s rounds, 10,000 drift rows")
    p.add_argument("--seconds", type=int, help="seconds per load round (default 10; smoke 2)")
    p.add_argument("--rounds", type=int, help="rounds per mode (default 3; smoke 1)")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--drift-rows", type=int, help="collected rows for the drift run (default 100000)")
    p.add_argument("--drift-runs", type=int, help="detectors timed (default 3; smoke 1)")
    p.add_argument("--load-tool", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--no-serving", action="store_true", help="skip collection on vs off")
    p.add_argument("--no-drift", action="store_true", help="skip the drift run")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "monitoring")
    p.add_argument("--cache", type=Path, default=_cache())
    return p.parse_args(argv)


# -- collection on vs off ----------------------------------------------------------------------------
def _server(workdir: Path, model_path: Path, collect: bool, tag: str) -> tuple[procs.ServerProcess, int]:
    app = workdir / tag / "app"
    model_dir = workdir / tag / "model"
    app.mkdir(parents=True)
    model_dir.mkdir(parents=True)
    (app / "score.py").write_text(SCRIPT.read_text())
    shutil.copyfile(model_path, model_dir / MODEL_FILE)
    port = procs.free_port()
    settings: dict[str, Any] = {
        "entry_script": str(app / "score.py"),
        "model_dir": str(model_dir),
        "port": port,
        "service_name": f"bench-{tag}",
        "models": [{"name": "sklearn_mnist", "version": "1"}],
        "ready_file": str(workdir / tag / "ready.json"),
    }
    if collect:
        settings["model_data"] = {
            "root": str(workdir / tag / "modeldata"),
            "workspace": "00000000-0000-0000-0000-000000000000/local/bench",
            "service": f"bench-{tag}",
            "models": [{"name": "sklearn_mnist", "version": "1"}],
        }
    config = workdir / tag / "server.json"
    config.write_text(json.dumps(settings))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env["PYTHONPATH"] = str(REPO)
    proc = procs.start(
        [sys.executable, "-m", "modelport.server", "--config", str(config)],
        workdir,
        env,
        workdir / f"{tag}.log",
    )
    deadline = time.monotonic() + 120
    while not (workdir / tag / "ready.json").exists():
        if not proc.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{tag} server did not start:\n{proc.log_tail()}")
        time.sleep(0.1)
    return proc, port


def _cpu(server: procs.ServerProcess) -> float:
    """CPU seconds (user + system) used so far by the server's processes (its workers included)."""
    total = 0.0
    for p in server.tree():
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # a process that just ended
            continue
    return total


def _metric(port: int, name: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def serving(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    model = trained_model(args.cache, args.smoke)
    x_test, _ = load_split(train=False)
    body = json.dumps({"data": x_test[:1].tolist()}).encode()
    tool = load.tool_name(args.load_tool)
    seconds = args.seconds or (2 if args.smoke else 10)
    rounds = args.rounds or (1 if args.smoke else 3)
    off, off_port = _server(workdir, model.path, False, "off")
    on, on_port = _server(workdir, model.path, True, "on")
    try:
        for port in (off_port, on_port):  # warm both: first requests, the collector's first file
            load.run_level(tool, port, "/score", body, args.concurrency, 2)
        runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
        order = ["off", "on"]
        for r in range(rounds):
            for mode in order if r % 2 == 0 else order[::-1]:
                port = on_port if mode == "on" else off_port
                server = on if mode == "on" else off
                cpu = _cpu(server)
                result = load.run_level(tool, port, "/score", body, args.concurrency, seconds)
                cpu_ms = (_cpu(server) - cpu) * 1e3 / max(result.ok, 1)
                runs[mode].append(
                    {**result.to_json(), "loadavg": os.getloadavg()[0], "cpu_ms_per_request": cpu_ms}
                )
                p50, p99 = result.p50_ms, result.p99_ms
                print(f"  {mode:>3}: {result.rps:8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
        collected, deadline = -1.0, time.monotonic() + 30
        while time.monotonic() < deadline:  # until the last flush (every second) has landed
            now = _metric(on_port, "modelport_collected_rows_total")
            if now == collected:
                break
            collected = now
            time.sleep(1.5)
        dropped = _metric(on_port, "modelport_collect_dropped_rows_total")
        answered = sum(r["ok"] for r in runs["on"])
    finally:
        procs.stop(off)
        procs.stop(on)
    keys = ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request")
    med = {m: {k: statistics.median(r[k] for r in runs[m]) for k in keys} for m in runs}
    return {
        "tool": tool,
        "concurrency": args.concurrency,
        "seconds_per_round": seconds,
        "rounds": rounds,
        "runs": runs,
        "median": med,
        "rps_ratio": med["on"]["rps"] / med["off"]["rps"],
        "p99_ratio": med["on"]["p99_ms"] / med["off"]["p99_ms"],
        "cpu_ratio": med["on"]["cpu_ms_per_request"] / med["off"]["cpu_ms_per_request"],
        "rows_collected": collected,
        "rows_dropped": dropped,
        "requests_answered_while_collecting": answered,
    }


# -- drift -------------------------------------------------------------------------------------------
def _write_csv(path: Path, x: np.ndarray) -> None:
    from modelport.monitoring.collection import rows

    with open(path, "wb") as f:
        f.write(rows.csv_line(PIXELS))
        for start in range(0, len(x), 5000):
            data, _n, _j = rows.encode(x[start : start + 5000], 784)
            f.write(data)


def drift(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    os.environ["MODELPORT_HOME"] = str(workdir / "home")
    from modelport.core import Dataset
    from modelport.core.workspace import Workspace
    from modelport.datadrift import DataDriftDetector
    from modelport.monitoring import ModelDataCollector
    from modelport.monitoring.collection import config, writer
    from modelport.monitoring.drift.detector import model_data_root, workspace_id

    rows = args.drift_rows or (10_000 if args.smoke else 100_000)
    ws = Workspace.create("bench")
    x_train, _ = load_split(train=True)
    x_test, _ = load_split(train=False)
    datastore = ws.get_default_datastore()
    folder = Path(datastore.root) / "training"
    folder.mkdir(parents=True)
    _write_csv(folder / "train.csv", x_train)
    baseline = Dataset.Tabular.from_delimited_files(datastore.path("training/train.csv")).register(
        ws, "mnist-train"
    )
    # The target, written by the real collector as a service would (one day).
    config.configure(
        config.CollectionConfig(
            root=model_data_root(ws), workspace=workspace_id(ws), service="mnist-svc",
            models=[{"name": "sklearn_mnist", "version": "1"}], buffer_mb=2048,
        )
    )  # fmt: skip
    dc = ModelDataCollector("sklearn_mnist", designation="inputs", feature_names=PIXELS)
    reps = np.tile(x_test, (int(np.ceil(rows / len(x_test))), 1))[:rows]
    for start in range(0, rows, 1000):
        dc.collect(reps[start : start + 1000])
    writer.shutdown(600)
    config.configure(None)
    path = f"modeldata/{workspace_id(ws)}/mnist-svc/sklearn_mnist/1/inputs/**/data.csv"
    target = Dataset.Tabular.from_delimited_files(datastore.path(path))
    # scipy.stats is imported before the clock starts: ~0.5 s with bytecode, 2-4 s without it (this
    # sandbox runs with PYTHONDONTWRITEBYTECODE and uv writes none), which is not drift's cost.
    started = time.perf_counter()
    import scipy.spatial.distance
    import scipy.stats  # noqa: F401

    import_s = round(time.perf_counter() - started, 2)
    today = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    timings: list[dict[str, Any]] = []
    runs = args.drift_runs or (1 if args.smoke else 3)
    for i in range(runs):  # a new detector each time: its first run profiles the baseline again
        detector = DataDriftDetector.create_from_datasets(
            ws, f"bench-drift-{i}", baseline, target, frequency="Day"
        )
        for kind in ("first", "second"):
            wall, cpu = time.perf_counter(), time.process_time()
            run = detector.run(today)
            timings.append(
                {
                    "run": kind,
                    "wall_s": round(time.perf_counter() - wall, 2),
                    "cpu_s": round(time.process_time() - cpu, 2),
                    "loadavg": round(os.getloadavg()[0], 2),
                }
            )
            t = timings[-1]
            print(f"  drift {kind} run {i + 1}/{runs}: {t['wall_s']} s wall, {t['cpu_s']} s CPU")
    share = run.get_metrics()["drift_share"]
    median = {
        kind: {k: statistics.median(t[k] for t in timings if t["run"] == kind) for k in ("wall_s", "cpu_s")}
        for kind in ("first", "second")
    }
    return {
        "rows": rows,
        "features": 784,
        "baseline_rows": len(x_train),
        "scipy_import_s": import_s,
        "timings": timings,
        "median": median,
        "drift_share": share,
    }


def _markdown(result: dict[str, Any]) -> str:
    lines = ["# Monitoring benchmark", "", f"Machine: {result['machine']}", ""]
    s = result.get("serving")
    if s:
        lines += [
            f"## Collection on vs off ({s['tool']}, c={s['concurrency']}, single row, "
            f"{s['rounds']} rounds of {s['seconds_per_round']} s each)",
            "",
            "| | req/s | p50 ms | p99 ms | server CPU ms per request |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for mode in ("off", "on"):
            m = s["median"][mode]
            lines.append(
                f"| collection {mode} | {m['rps']:.0f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} | "
                f"{m['cpu_ms_per_request']:.3f} |"
            )
        lines += [
            "",
            f"Throughput on/off: **{s['rps_ratio']:.3f}x** (goal >= {GOALS['rps_ratio_min']}x); "
            f"p99 on/off: **{s['p99_ratio']:.3f}x** (goal <= {GOALS['p99_ratio_max']}x); "
            f"server CPU per request on/off: **{s['cpu_ratio']:.3f}x** (the load average moves req/s; "
            "CPU per request does not). "
            f"Rows collected {s['rows_collected']:.0f}, dropped {s['rows_dropped']:.0f}.",
            "",
        ]
    d = result.get("drift")
    if d:
        lines += [f"## Drift: {d['rows']:,} rows x {d['features']} features vs {d['baseline_rows']:,}", ""]
        lines += [
            "| run | median wall s | median CPU s | runs (wall s / CPU s / load average) |",
            "| --- | ---: | ---: | --- |",
        ]
        label = {"first": "first run (profiles the baseline)", "second": "second run (baseline profile kept)"}
        for kind, m in d["median"].items():
            each = ", ".join(
                f"{t['wall_s']}/{t['cpu_s']}/{t['loadavg']}" for t in d["timings"] if t["run"] == kind
            )
            lines.append(f"| {label[kind]} | {m['wall_s']} | {m['cpu_s']} | {each} |")
        lines += ["", f"scipy.stats imported before timing ({d['scipy_import_s']} s here, not counted)."]
        lines += ["", f"Drift share found: {d['drift_share']} (the same images: none expected).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    procs.install_cleanup()
    result: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average at start {os.getloadavg()[0]:.2f}",
        "smoke": args.smoke,
        "goals": GOALS,
    }
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
        workdir = Path(tmp)
        if not args.no_serving:
            print("collection on vs off:")
            result["serving"] = serving(args, workdir)
        if not args.no_drift:
            print("drift:")
            result["drift"] = drift(args, workdir)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "monitoring.json").write_text(json.dumps(result, indent=2, default=str))
    (args.out / "monitoring.md").write_text(_markdown(result))
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
