"""Batch runs against their floor: ``python -m bench.batch_bench`` (issue 20's Speed section).

The tutorial's MNIST model scores the 10,000 test images as 10,000 PNG files (file input) and
as one CSV (tabular input), through modelport's batch runner and through the floor: a plain
``multiprocessing.Pool`` with the same process count calling the same ``init()``/``run()`` on
the same mini-batches (the runner's own plan; the CSV's byte ranges read by the same reader).

Measured, each as the median of ``--repeats`` runs in alternating order, with the load average
at the start of every run:

- throughput at 2 processes, end to end (submit to Completed; Pool start to the last row
  written) and steady (items between the first and the last finished mini-batch);
- submit-to-first-mini-batch with a cached environment (a built modelport Environment found in
  the cache: resolving it is included);
- per-mini-batch overhead: an empty ``run()`` over 1-file mini-batches on one process;
- memory per worker: the peak RSS (and USS) of each worker process, sampled every 100 ms.

Results go to ``bench/results/batch-<time>.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench.model import REPO, load_split, trained_model

SCRIPTS = REPO / "bench" / "scripts"


# -- data ------------------------------------------------------------------------------------------
def test_data(cache: Path) -> tuple[Path, Path]:
    """The 10,000 test images as PNG files and as one CSV (``id`` + 784 pixel columns), made once."""
    folder = cache / "batch-data"
    pngs, csv = folder / "png", folder / "mnist_test.csv"
    done = folder / "complete"
    if done.exists():
        return pngs, csv
    from PIL import Image

    images, _ = load_split(train=False)
    pixels = (images * 255.0).round().astype("uint8")
    pngs.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(pixels):
        Image.fromarray(row.reshape(28, 28), mode="L").save(pngs / f"{i:05d}.png")
    with open(csv, "w") as f:
        f.write("id," + ",".join(f"p{k}" for k in range(784)) + "\n")
        for i, row in enumerate(pixels):
            f.write(f"{i}," + ",".join(map(str, row.tolist())) + "\n")
    done.write_text("ok")
    return pngs, csv


# -- memory sampling -------------------------------------------------------------------------------
class Sampler:
    """Peak RSS/USS per worker process (what ``workers()`` returns), sampled every 100 ms."""

    def __init__(self, workers: Callable[[], list[psutil.Process]], root: psutil.Process) -> None:
        self.workers = workers
        self.root = root
        self.rss: dict[int, int] = {}
        self.uss: dict[int, int] = {}
        self.cpu: dict[int, float] = {}  # the last CPU time seen (user + system) of each worker
        self.root_cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        tick = 0
        while not self._stop.wait(0.1):
            tick += 1
            try:
                t = self.root.cpu_times()
                self.root_cpu = t.user + t.system
            except psutil.Error:
                pass
            try:
                procs = self.workers()
            except psutil.Error:
                continue
            for p in procs:
                try:
                    t = p.cpu_times()
                    self.cpu[p.pid] = t.user + t.system
                    rss = p.memory_info().rss
                    # USS reads /proc/<pid>/smaps, which costs milliseconds: once a second.
                    uss = p.memory_full_info().uss if tick % 10 == 0 else 0
                except psutil.Error:
                    continue
                self.rss[p.pid] = max(self.rss.get(p.pid, 0), rss)
                self.uss[p.pid] = max(self.uss.get(p.pid, 0), uss)

    def summary(self) -> dict[str, float | None]:
        mb = 1024 * 1024
        return {
            "workers_cpu_s": sum(self.cpu.values()),
            "parent_cpu_s": self.root_cpu,
            "rss_mb": statistics.median(self.rss.values()) / mb if self.rss else None,
            "uss_mb": statistics.median(v for v in self.uss.values() if v) / mb
            if any(self.uss.values())
            else None,
        }


# -- modelport's runner -----------------------------------------------------------------------------
def spec_for(
    kind: str, data: Path, out: Path, processes: int, interpreter: str, script: str, size: int
) -> Any:
    from modelport.jobs.batch import BatchInput, BatchSpec

    if kind == "files":
        inp = BatchInput("images", "files", tuple(str(p) for p in sorted(data.iterdir())))
    else:
        inp = BatchInput("table", "tabular", (str(data),), {"format": "csv", "header": True})
    return BatchSpec(
        entry_script=script,
        source_directory=str(SCRIPTS),
        interpreter=interpreter,
        inputs=(inp,),
        output_dir=str(out),
        mini_batch_size=size,
        process_count_per_node=processes,
        environment_variables={"BENCH_MODEL": os.environ.get("BENCH_MODEL", "")},
        run_invocation_timeout=600,
    )


def run_ours(ws: Any, spec: Any) -> dict[str, Any]:
    from modelport.jobs import batch
    from modelport.jobs.batch.journal import Journal
    from modelport.jobs.batch.layout import RunFolder
    from modelport.registry import runs

    load = os.getloadavg()[0]
    t0 = time.time()
    record = batch.submit(ws, "bench", spec)
    sup = psutil.Process(int(record.details["supervisor"]["pid"]))

    def workers() -> list[psutil.Process]:
        return sup.children() if sup.is_running() else []

    with Sampler(workers, sup) as sampler:
        while runs.get_run(ws, record.id).status not in runs.FINAL:
            time.sleep(0.02)
    wall = time.time() - t0
    final = runs.get_run(ws, record.id)
    assert final.status == "Completed", final.error
    j = Journal(RunFolder.of(ws, record.id).journal, readonly=True)
    rows = j.conn.execute("SELECT finished_time, items FROM finished ORDER BY finished_time").fetchall()
    j.close()
    return {
        "load": load,
        "wall_s": wall,
        "items": sum(r[1] for r in rows),
        "first_s": rows[0][0] - t0,
        **_steady(rows),
        **sampler.summary(),
    }


def _steady(rows: list[tuple[float, int]]) -> dict[str, float]:
    """Items/s while every worker is busy: between the mini-batches that finish the first 10% and
    the first 90% of the items (start-up, with its imports and init(), and the tail left out)."""
    total = sum(n for _, n in rows)
    done, t10, t90, n10, n90 = 0, None, None, 0, 0
    for t, n in sorted(rows):
        done += n
        if t10 is None and done >= 0.1 * total:
            t10, n10 = t, done
        if t90 is None and done >= 0.9 * total:
            t90, n90 = t, done
    if t10 is None or t90 is None or t90 <= t10:
        return {"steady_items_s": float("nan")}
    return {"steady_items_s": (n90 - n10) / (t90 - t10)}


# -- the floor ---------------------------------------------------------------------------------------
def run_floor(spec: Any) -> dict[str, Any]:
    """The floor (bench/batch_floor.py) in a fresh process over the same mini-batches."""
    from modelport.jobs.batch.plan import plan

    load = os.getloadavg()[0]
    out = Path(spec.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    payloads = out / "floor-payloads.json"
    payloads.write_text(json.dumps([mb.payload for mb in plan(spec)]))
    script = str(Path(spec.source_directory) / spec.entry_script)
    t0 = time.time()
    proc = subprocess.Popen(
        [spec.interpreter, "-m", "bench.batch_floor", str(payloads), script, str(spec.process_count_per_node),
         str(out / "floor.txt")],
        stdout=subprocess.PIPE,
        env={**os.environ, **spec.environment_variables, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )  # fmt: skip
    parent = psutil.Process(proc.pid)
    with Sampler(lambda: parent.children() if parent.is_running() else [], parent) as sampler:
        stdout, _ = proc.communicate()
    wall = time.time() - t0
    assert proc.returncode == 0
    data = json.loads(stdout)
    rows = [(t, n) for t, n in data["rows"]]
    return {
        "load": load,
        "wall_s": wall,
        "items": sum(r[1] for r in rows),
        "first_s": rows[0][0] - t0,
        **_steady(rows),
        **sampler.summary(),
    }


# -- submit to first mini-batch with a cached environment ----------------------------------------------
def bench_environment() -> Callable[[], str]:
    """A function resolving the benchmark's modelport Environment (the tutorial's packages, and
    pandas for the CSV) to its interpreter: built on the first call, found in the cache after."""
    import sklearn

    from modelport import _settings
    from modelport.core.conda_dependencies import CondaDependencies
    from modelport.core.environment import Environment
    from modelport.environments import EnvSpec, resolve_interpreter

    env = Environment("bench-batch")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=[f"scikit-learn=={sklearn.__version__}", "joblib", "pillow", "pandas"]
    )

    def resolve() -> str:
        spec = EnvSpec.from_dict(env.to_spec())
        return str(resolve_interpreter(spec, _settings.env_cache_root(), log=lambda _: None))

    return resolve


def first_with_cached_env(ws: Any, pngs: Path, out: Path, repeats: int) -> list[float]:
    from modelport.jobs import batch
    from modelport.jobs.batch.journal import Journal
    from modelport.jobs.batch.layout import RunFolder
    from modelport.registry import runs

    resolve = bench_environment()
    resolve()  # built (or found) before the clock starts
    times = []
    for i in range(repeats):
        t0 = time.time()
        spec = spec_for("files", pngs, out, 2, resolve(), "batch_png.py", 10)
        # an experiment of its own each time: the same work in one experiment would reuse the
        # mini-batches the previous (canceled) run finished
        record = batch.submit(ws, f"bench-first-{i}-{time.time_ns()}", spec)
        folder = RunFolder.of(ws, record.id)
        first = None
        while first is None:
            if folder.journal.is_file():
                try:
                    j = Journal(folder.journal, readonly=True)
                    first = j.conn.execute("SELECT MIN(finished_time) FROM finished").fetchone()[0]
                    j.close()
                except Exception:
                    first = None
            time.sleep(0.005)
        times.append(first - t0)
        batch.cancel(ws, record.id)
        while runs.get_run(ws, record.id).status not in runs.FINAL:
            time.sleep(0.05)
    return times


# -- the whole benchmark ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batch_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--files-per-batch", type=int, default=10, help="PNG files per mini-batch")
    parser.add_argument("--bytes-per-batch", type=int, default=64 * 1024, help="CSV bytes per mini-batch")
    parser.add_argument("--overhead-batches", type=int, default=2000)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "modelport-bench")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--smoke", action="store_true", help="the small model (2,000 training rows)")
    args = parser.parse_args(argv)

    model = trained_model(args.cache, smoke=args.smoke)
    os.environ["BENCH_MODEL"] = str(model.path)
    pngs, csv = test_data(args.cache)
    home = Path(tempfile.mkdtemp(prefix="modelport-batch-bench-"))
    os.environ["MODELPORT_HOME"] = str(home)
    os.environ.setdefault("MODELPORT_ENV_CACHE", str(args.cache / "modelport-envs"))
    from modelport.workspace import Workspace

    ws = Workspace.create("batchbench")
    results: dict[str, Any] = {
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "processes": args.processes,
        "model": {"kind": model.kind, "train_rows": model.train_rows},
    }
    python = bench_environment()()
    results["interpreter"] = python
    cases = {
        "files": (pngs, "batch_png.py", args.files_per_batch),
        "tabular": (csv, "batch_csv.py", args.bytes_per_batch),
    }
    for kind, (data, script, size) in cases.items():
        ours, floor = [], []
        for i in range(args.repeats):
            out = home / "out" / f"{kind}-{i}"
            spec = spec_for(kind, data, out, args.processes, python, script, size)
            order = [("ours", ours), ("floor", floor)] if i % 2 == 0 else [("floor", floor), ("ours", ours)]
            for name, into in order:
                into.append(run_ours(ws, spec) if name == "ours" else run_floor(spec))
                print(f"{kind} {name} run {i + 1}: {json.dumps(into[-1])}", flush=True)
        results[kind] = {"ours": ours, "floor": floor, "median": _medians(ours, floor)}
    # per-mini-batch overhead: an empty run() over 1-file mini-batches, one process
    files = sorted(pngs.iterdir())[: args.overhead_batches]
    sub = home / "overhead"
    sub.mkdir()
    for f in files:
        (sub / f.name).symlink_to(f)
    over_ours, over_floor = [], []
    for i in range(args.repeats):
        spec = spec_for("files", sub, home / "out" / f"over-{i}", 1, python, "batch_empty.py", 1)
        a = run_ours(ws, spec)
        b = run_floor(spec)
        over_ours.append(1000.0 / a["steady_items_s"])
        over_floor.append(1000.0 / b["steady_items_s"])
    results["overhead_ms"] = {
        "ours": over_ours,
        "floor": over_floor,
        "median_ours": statistics.median(over_ours),
        "median_floor": statistics.median(over_floor),
    }
    firsts = first_with_cached_env(ws, pngs, home / "out" / "first", args.repeats)
    results["submit_to_first_s"] = {"runs": firsts, "median": statistics.median(firsts)}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"batch-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(report(results))
    print(f"\nresults: {path}")
    return 0


def _medians(ours: list[dict[str, Any]], floor: list[dict[str, Any]]) -> dict[str, float | None]:
    def med(rows: list[dict[str, Any]], key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(values) if values else None

    out: dict[str, float | None] = {}
    for key in (
        "wall_s",
        "steady_items_s",
        "first_s",
        "rss_mb",
        "uss_mb",
        "load",
        "workers_cpu_s",
        "parent_cpu_s",
    ):
        out[f"ours_{key}"], out[f"floor_{key}"] = med(ours, key), med(floor, key)
    items = ours[0]["items"] if ours else 0
    if out["ours_wall_s"] and out["floor_wall_s"]:
        out["end_to_end_ratio"] = (items / out["ours_wall_s"]) / (items / out["floor_wall_s"])
    if out["ours_steady_items_s"] and out["floor_steady_items_s"]:
        out["steady_ratio"] = out["ours_steady_items_s"] / out["floor_steady_items_s"]
    if out["ours_rss_mb"] and out["floor_rss_mb"]:
        out["rss_ratio"] = out["ours_rss_mb"] / out["floor_rss_mb"]
    if out["ours_uss_mb"] and out["floor_uss_mb"]:
        out["uss_ratio"] = out["ours_uss_mb"] / out["floor_uss_mb"]
    return out


def report(r: dict[str, Any]) -> str:
    lines = [f"batch benchmark, {r['processes']} processes, {r['cpus']} CPUs, model {r['model']['kind']}"]
    for kind in ("files", "tabular"):
        m = r[kind]["median"]
        lines.append(
            f"{kind:8s} end-to-end {m.get('end_to_end_ratio', float('nan')):.2f}x floor "
            f"({m['ours_wall_s']:.2f} s vs {m['floor_wall_s']:.2f} s); "
            f"steady {m.get('steady_ratio', float('nan')):.2f}x "
            f"({m['ours_steady_items_s']:.0f} vs {m['floor_steady_items_s']:.0f} items/s); "
            f"worker RSS {m['ours_rss_mb']:.0f} vs {m['floor_rss_mb']:.0f} MB "
            f"({m.get('rss_ratio', float('nan')):.2f}x), "
            f"USS {m['ours_uss_mb']:.0f} vs {m['floor_uss_mb']:.0f} MB; CPU s (workers + parent) "
            f"{m['ours_workers_cpu_s']:.1f} + {m['ours_parent_cpu_s']:.2f} vs "
            f"{m['floor_workers_cpu_s']:.1f} + {m['floor_parent_cpu_s']:.2f}; load {m['ours_load']:.1f}"
        )
    o = r["overhead_ms"]
    lines.append(
        f"per-mini-batch overhead (empty run()): {o['median_ours']:.2f} ms (floor {o['median_floor']:.2f} ms)"
    )
    lines.append(f"submit to first mini-batch, cached environment: {r['submit_to_first_s']['median']:.2f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
