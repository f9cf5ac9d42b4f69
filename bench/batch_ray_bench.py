"""Runs on a Ray cluster against the same runs on this machine: ``python -m bench.batch_ray_bench``
(issue 21's Speed section).

On an AmlCompute cluster modelport starts here (one Ray node), with the batch benchmark's inputs
(bench/batch_bench.py: the tutorial's MNIST model over 10,000 PNG files and over one CSV):

- batch throughput, the ``ray`` executor (Ray actors) against the local runner at the same
  process count, end to end (submit to Completed) and steady (between 10% and 90% of the items);
  goal: >= 0.8x;
- submit-to-first-mini-batch on the running cluster (goal <= 5 s);
- a script run's start on the running cluster against a local one: submit to the script's first
  line, and submit to Completed, of a script that prints and ends (goal: <= 3 s more);
- for correctness only (one machine, 2 cores): the PNG run on two Ray nodes
  (``ray.cluster_utils.Cluster``, node_count=2) gives the local run's output.

Every figure is the median of ``--repeats`` runs in alternating order, with the load average at
the start of each run. Results go to ``bench/results/batch-ray-<time>.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.batch_bench import _steady, spec_for, test_data
from bench.model import REPO, trained_model

FIRST_LINE = "import time, sys\nprint('started', time.time(), flush=True)\n"


class CpuMeter:
    """CPU seconds (user + system) the processes of a run spend: this process's descendants (the
    run's supervisor and a local run's workers) and, for a Ray run, every process of the cluster
    (raylet, GCS, agents, the actors). Sampled every 0.2 s while the run goes; a process that ends
    keeps its last sample. On a machine shared with others, wall-clock ratios follow the neighbours'
    load; the CPU a run costs does much less, and on an idle 2-core machine it is what bounds the
    wall time once both cores are busy."""

    def __init__(self, extra: Any = None) -> None:
        self.extra = extra  # a callable giving more processes (the cluster's), or None
        self.seen: dict[tuple[int, float], float] = {}
        self.base: dict[tuple[int, float], float] = {}
        self.names: dict[tuple[int, float], str] = {}
        self.stopped = False

    def _sample(self) -> dict[tuple[int, float], float]:
        import psutil

        procs = psutil.Process().children(recursive=True)
        if self.extra is not None:
            for p in self.extra():
                procs.append(p)
                try:
                    procs.extend(p.children(recursive=True))
                except psutil.Error:
                    pass
        out: dict[tuple[int, float], float] = {}
        for p in procs:
            try:
                t = p.cpu_times()
                key = (p.pid, p.create_time())
                out[key] = t.user + t.system
                # Again each time: a Ray worker renames itself (ray::BatchActor...) once it runs.
                self.names[key] = _proc_name(p)
            except psutil.Error:
                pass
        return out

    def __enter__(self) -> CpuMeter:
        import threading

        self.base = self._sample()
        self.seen = dict(self.base)

        def loop() -> None:
            while not self.stopped:
                self.seen.update(self._sample())
                time.sleep(0.2)

        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopped = True
        self.thread.join()
        self.seen.update(self._sample())

    @property
    def seconds(self) -> float:
        return sum(v - self.base.get(k, 0.0) for k, v in self.seen.items())

    def by_name(self, top: int = 8) -> dict[str, float]:
        """CPU seconds by kind of process (the supervisor, the workers, Ray's daemons), largest first."""
        out: dict[str, float] = {}
        for k, v in self.seen.items():
            name = self.names.get(k, "?")
            out[name] = out.get(name, 0.0) + v - self.base.get(k, 0.0)
        return {k: round(v, 2) for k, v in sorted(out.items(), key=lambda kv: -kv[1])[:top] if v > 0.05}


def _proc_name(p: Any) -> str:
    cmd = p.cmdline()
    if cmd and cmd[0].startswith("ray::"):
        return cmd[0].split(".")[0].split(":")[0] + ":" + cmd[0][5:].split(".")[0]
    for marker in ("modelport.jobs.batch.worker", "modelport.jobs.batch", "gcs_server", "raylet",
                   "dashboard.py", "monitor.py", "log_monitor.py", "ray.util.client.server",
                   "runtime_env", "dashboard_agent", "agent"):  # fmt: skip
        if any(marker in part for part in cmd):
            return marker
    return str(p.name())


def run_batch(ws: Any, spec: Any, compute: Any, experiment: str, cluster_procs: Any = None) -> dict[str, Any]:
    """One batch run to its end: wall time, steady rate, first mini-batch (from submit), CPU
    seconds of its processes (:class:`CpuMeter`; ``cluster_procs`` for a Ray run)."""
    from modelport.jobs import batch
    from modelport.jobs.batch.journal import Journal
    from modelport.jobs.batch.layout import RunFolder
    from modelport.registry import runs

    load = os.getloadavg()[0]
    t0 = time.time()
    with CpuMeter(cluster_procs) as cpu:
        record = batch.submit(ws, experiment, spec, compute=compute)
        while runs.get_run(ws, record.id).status not in runs.FINAL:
            time.sleep(0.05)
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
        "cpu_s": cpu.seconds,
        "cpu_by": cpu.by_name(),
        "output": str(spec.output_file),
        **_steady(rows),
    }


def script_start(ws: Any, source: Path, compute: Any) -> dict[str, float]:
    """Submit a script that prints the time and ends: seconds to its first line, and to Completed."""
    from modelport.core import Experiment, ScriptRunConfig
    from modelport.registry import runs

    load = os.getloadavg()[0]
    t0 = time.time()
    run = Experiment(ws, "bench-script").submit(
        ScriptRunConfig(source_directory=str(source), script="first.py", compute_target=compute or "local")
    )
    while runs.get_run(ws, run.id).status not in runs.FINAL:
        time.sleep(0.01)
    done = time.time() - t0
    record = runs.get_run(ws, run.id)
    assert record.status == "Completed", record.error
    log = (ws.path / "runs" / run.id / "azureml-logs" / "70_driver_log.txt").read_text()
    started = float(log.split("started", 1)[1].split()[0])
    return {"load": load, "first_line_s": started - t0, "completed_s": done}


def _phases(master_role: Path, t0: float, first: float) -> dict[str, float]:
    """Where submit-to-first went, from the run's own log (``logs/sys/master_role.txt``): the
    supervisor up and the plan made (``planned``), the cluster joined and the actors asked for
    (``workers_asked``), the first worker ready (``first_ready``; ``init_s`` of it in ``init()``),
    then the first mini-batch finished (``first``). Seconds from submit."""
    import datetime as dt

    def at(line: str) -> float:
        return dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f").timestamp()

    out: dict[str, float] = {"first": first - t0}
    for line in master_role.read_text().splitlines():
        if " Planned " in line and "planned" not in out:
            out["planned"] = at(line) - t0
        elif " Starting " in line and "workers_asked" not in out:
            out["workers_asked"] = at(line) - t0
        elif " ready: pid " in line and "first_ready" not in out:
            out["first_ready"] = at(line) - t0
            out["init_s"] = float(line.rsplit("init() took ", 1)[1].split()[0])
    return out


def first_on_cluster(
    ws: Any, pngs: Path, out: Path, python: str, compute: Any, repeats: int, phases: list[dict[str, float]]
) -> list[float]:
    from modelport.jobs import batch
    from modelport.jobs.batch.journal import Journal
    from modelport.jobs.batch.layout import RunFolder
    from modelport.registry import runs

    times = []
    for i in range(repeats):
        spec = spec_for("files", pngs, out / f"first-{i}", 2, python, "batch_png.py", 10)
        t0 = time.time()
        record = batch.submit(ws, f"bench-first-ray-{i}-{time.time_ns()}", spec, compute=compute)
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
            # Not tighter: this process polling a SQLite file every few ms took CPU the run's own
            # processes needed (2 cores), and inflated the figure it measures.
            time.sleep(0.05)
        times.append(first - t0)
        phases.append(_phases(folder.master_role, t0, first))
        batch.cancel(ws, record.id)
        while runs.get_run(ws, record.id).status not in runs.FINAL:
            time.sleep(0.05)
    return times


def two_nodes(ws: Any, pngs: Path, out: Path, python: str, local_output: str) -> dict[str, Any]:
    """The PNG run on two Ray nodes of this machine: the same rows as the local run's?"""
    import ray._private.ray_constants
    import ray._private.utils
    from ray.cluster_utils import Cluster

    from modelport.core.compute import AmlCompute, ComputeTarget, run_compute
    from modelport.deploy.ports import free_port

    temp = Path("/tmp") / f"mp-bench-2n-{free_port()}"
    ray._private.utils.write_ray_address = lambda *_a, **_k: None  # not /tmp/ray/ray_current_cluster
    # On 127.0.0.1 only: this test cluster has no authentication.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray._private.ray_constants.ENABLE_RAY_CLUSTER = False
    local = {"num_cpus": 1, "temp_dir": str(temp), "node_ip_address": "127.0.0.1"}
    nodes = Cluster(initialize_head=False)
    try:
        nodes.add_node(**local, include_dashboard=False, gcs_server_port=free_port())
        nodes.add_node(**local)
        nodes.wait_for_nodes()
        ComputeTarget.attach(ws, "two-nodes", AmlCompute.attach_configuration(address=nodes.address))
        compute = run_compute(ws, "two-nodes")
        spec = spec_for("files", pngs, out / "two-nodes", 1, python, "batch_png.py", 10)
        spec = dataclasses.replace(spec, node_count=2)
        result = run_batch(ws, spec, compute, "bench-two-nodes")
        same = sorted(Path(result["output"]).read_text().splitlines()) == sorted(
            Path(local_output).read_text().splitlines()
        )
        return {"wall_s": result["wall_s"], "items": result["items"], "same_output_as_local": same}
    finally:
        nodes.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None and r[key] == r[key]]
    return statistics.median(values) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.batch_ray_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--files-per-batch", type=int, default=10)
    parser.add_argument("--bytes-per-batch", type=int, default=64 * 1024)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "modelport-bench")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--smoke", action="store_true", help="the small model (2,000 training rows)")
    parser.add_argument("--no-two-nodes", action="store_true")
    parser.add_argument("--no-starts", action="store_true", help="only the throughput figures")
    parser.add_argument(
        "--no-throughput", action="store_true", help="only the start figures (submit-to-first, script runs)"
    )
    args = parser.parse_args(argv)

    model = trained_model(args.cache, smoke=args.smoke)
    os.environ["BENCH_MODEL"] = str(model.path)
    pngs, csv = test_data(args.cache)
    home = Path(tempfile.mkdtemp(prefix="modelport-ray-bench-"))
    os.environ["MODELPORT_HOME"] = str(home)
    os.environ.setdefault("MODELPORT_ENV_CACHE", str(args.cache / "modelport-envs"))
    from modelport import _settings
    from modelport.core.compute import AmlCompute, ComputeTarget, run_compute
    from modelport.environments.ray_check import WORKER, with_ray
    from modelport.workspace import Workspace

    ws = Workspace.create("raybench")
    # The benchmark's environment with the cluster's Ray added (its workers are Ray actors): both
    # runners use this one interpreter.
    import sklearn

    from modelport.core.conda_dependencies import CondaDependencies
    from modelport.core.environment import Environment
    from modelport.environments import EnvSpec, resolve_interpreter

    env = Environment("bench-batch")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=[f"scikit-learn=={sklearn.__version__}", "joblib", "pillow", "pandas"]
    )
    spec_env = env.to_spec()
    base = str(
        resolve_interpreter(EnvSpec.from_dict(spec_env), _settings.env_cache_root(), log=lambda _l: None)
    )
    python = with_ray(base, spec_env, _settings.env_cache_root(), print, WORKER)

    t0 = time.time()
    target = ComputeTarget.create(ws, "cpu-cluster", AmlCompute.provisioning_configuration(max_nodes=2))
    results: dict[str, Any] = {
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "processes": args.processes,
        "model": {"kind": model.kind, "train_rows": model.train_rows},
        "interpreter": python,
        "cluster_start_s": time.time() - t0,
    }
    from modelport.deploy import cluster as clusters

    record = clusters.load(ws, "cpu-cluster")

    def cluster_procs() -> list[Any]:
        return clusters.cluster_processes(record)

    try:
        compute = run_compute(ws, target)
        with CpuMeter(cluster_procs) as idle:  # Ray's own daemons, with no work
            time.sleep(10)
        results["cluster_idle_cpu_per_s"] = idle.seconds / 10
        results["cluster_idle_cpu_by"] = {k: v / 10 for k, v in idle.by_name().items()}
        print(f"idle cluster: {idle.seconds / 10:.3f} CPU s/s {results['cluster_idle_cpu_by']}", flush=True)
        cases = {
            "files": (pngs, "batch_png.py", args.files_per_batch),
            "tabular": (csv, "batch_csv.py", args.bytes_per_batch),
        }
        local_png_output = ""
        for kind, (data, script, size) in cases.items() if not args.no_throughput else ():
            ray_rows: list[dict[str, Any]] = []
            local_rows: list[dict[str, Any]] = []
            shipped_rows: list[dict[str, Any]] = []
            for i in range(args.repeats):
                order = [("ray", ray_rows), ("local", local_rows), ("shipped", shipped_rows)]
                for name, into in order if i % 2 == 0 else order[::-1]:
                    spec = spec_for(
                        kind, data, home / "out" / f"{kind}-{name}-{i}", args.processes, python, script, size
                    )
                    where = compute if name != "local" else None
                    procs = cluster_procs if name != "local" else None
                    # "shipped": the Ray workers get their inputs as bytes, as on a node that cannot
                    # see the workspace, instead of reading them in place.
                    os.environ[_settings.BATCH_SHIP_INPUTS] = "1" if name == "shipped" else ""
                    into.append(run_batch(ws, spec, where, f"bench-{kind}-{name}-{i}", procs))
                    print(f"{kind} {name} run {i + 1}: {json.dumps(into[-1])}", flush=True)
            local_png_output = local_png_output or (local_rows[0]["output"] if kind == "files" else "")
            runners = (("ray", ray_rows), ("local", local_rows), ("shipped", shipped_rows))
            med = {f"{n}_{k}": _median(rows, k) for n, rows in runners
                   for k in ("wall_s", "steady_items_s", "first_s", "load", "cpu_s")}  # fmt: skip
            med["end_to_end_ratio"] = (med["local_wall_s"] or 0) / (med["ray_wall_s"] or 1)
            med["steady_ratio"] = (med["ray_steady_items_s"] or 0) / (med["local_steady_items_s"] or 1)
            med["cpu_ratio"] = (med["local_cpu_s"] or 0) / (med["ray_cpu_s"] or 1)
            med["shipped_end_to_end_ratio"] = (med["local_wall_s"] or 0) / (med["shipped_wall_s"] or 1)
            med["shipped_cpu_ratio"] = (med["local_cpu_s"] or 0) / (med["shipped_cpu_s"] or 1)
            results[kind] = {"ray": ray_rows, "local": local_rows, "shipped": shipped_rows, "median": med}
        if args.no_starts:
            raise _Done
        phases: list[dict[str, float]] = []
        firsts = first_on_cluster(ws, pngs, home / "out", python, compute, args.repeats, phases)
        results["submit_to_first_s"] = {
            "runs": firsts,
            "median": statistics.median(firsts),
            "phases": phases,
            "phases_median": {
                k: _median(phases, k) for k in ("planned", "workers_asked", "first_ready", "init_s")
            },
        }
        source = home / "first"
        source.mkdir()
        (source / "first.py").write_text(FIRST_LINE)
        on_ray: list[dict[str, float]] = []
        here: list[dict[str, float]] = []
        for i in range(args.repeats):
            order = [("ray", on_ray), ("local", here)]
            for name, into in order if i % 2 == 0 else order[::-1]:
                into.append(script_start(ws, source, target if name == "ray" else None))
                print(f"script {name} run {i + 1}: {json.dumps(into[-1])}", flush=True)
        results["script_start"] = {
            "ray": on_ray,
            "local": here,
            "median": {
                "ray_first_line_s": _median(on_ray, "first_line_s"),
                "local_first_line_s": _median(here, "first_line_s"),
                "ray_completed_s": _median(on_ray, "completed_s"),
                "local_completed_s": _median(here, "completed_s"),
            },
        }
    except _Done:
        pass
    finally:
        target.delete()
    if not args.no_two_nodes and local_png_output:
        results["two_nodes"] = two_nodes(ws, pngs, home / "out", python, local_png_output)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"batch-ray-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(report(results))
    print(f"\nresults: {path}")
    return 0


class _Done(Exception):
    """--no-starts: the throughput figures are all that was asked."""


def report(r: dict[str, Any]) -> str:
    lines = [f"Ray batch benchmark, {r['processes']} processes, {r['cpus']} CPUs, model {r['model']['kind']}"]
    for kind in [k for k in ("files", "tabular") if k in r]:
        m = r[kind]["median"]
        lines.append(
            f"{kind:8s} ray/local end-to-end {m['end_to_end_ratio']:.2f}x ({m['ray_wall_s']:.1f} s vs "
            f"{m['local_wall_s']:.1f} s), steady {m['steady_ratio']:.2f}x ({m['ray_steady_items_s']:.0f} vs "
            f"{m['local_steady_items_s']:.0f} items/s); CPU {m.get('cpu_ratio', 0):.2f}x "
            f"({m.get('ray_cpu_s') or 0:.1f} vs {m.get('local_cpu_s') or 0:.1f} CPU s); "
            f"load {m['ray_load']:.1f}"
        )
        if m.get("shipped_cpu_s"):
            lines.append(
                f"{kind:8s} inputs shipped as bytes: end-to-end {m['shipped_end_to_end_ratio']:.2f}x "
                f"({m['shipped_wall_s']:.1f} s), CPU {m['shipped_cpu_ratio']:.2f}x "
                f"({m['shipped_cpu_s']:.1f} CPU s)"
            )
    if "submit_to_first_s" not in r:
        return "\n".join(lines)
    f = r["submit_to_first_s"]
    ph = f.get("phases_median") or {}
    lines.append(
        f"submit to first mini-batch on the running cluster: {f['median']:.2f} s "
        + ", ".join(f"{k} {v:.2f} s" for k, v in ph.items() if v is not None)
    )
    s = r["script_start"]["median"]
    more = s["ray_first_line_s"] - s["local_first_line_s"]
    lines.append(
        f"script run: first line {s['ray_first_line_s']:.2f} s on the cluster vs "
        f"{s['local_first_line_s']:.2f} s here (+{more:.2f} s); Completed {s['ray_completed_s']:.2f} s vs "
        f"{s['local_completed_s']:.2f} s"
    )
    if "two_nodes" in r:
        t = r["two_nodes"]
        lines.append(
            f"two Ray nodes (correctness): {t['items']} items in {t['wall_s']:.1f} s, "
            f"same output as the local run: {t['same_output_as_local']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
