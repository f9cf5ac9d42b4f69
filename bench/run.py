"""``python -m bench.run``: modelport against azmlinfsrv, MLServer and the bare ASGI floor, one command.

Example::

    .venv/bin/python -m bench.run                         # full run, ~5 minutes plus first installs
    .venv/bin/python -m bench.run --smoke --servers modelport --out /tmp/bench

Installs the comparators into cached venvs, trains (or loads) the tutorial's model, starts each
server on 127.0.0.1, measures it, stops it, and writes results.json/.md/.png into ``--out``.
docs/performance.md says what each figure means and how it is taken.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import load, procs, report
from bench.envs import BuiltEnv, ensure_env
from bench.floor import measure_floor
from bench.measure import PROBE_ROWS, Inputs, Plan, measure
from bench.model import ACCURACY_TOLERANCE, FULL_ACCURACY, REPO, load_split, trained_model
from bench.servers import SERVERS, V1


def _default_cache() -> Path:
    if "MODELPORT_BENCH_CACHE" in os.environ:
        return Path(os.environ["MODELPORT_BENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelport-bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model, 200-row request, 1-s load levels")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated, run in this order")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="folder for the results")
    parser.add_argument("--cache", type=Path, default=_default_cache(), help="venvs and trained models")
    parser.add_argument("--load-tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--load-seconds", type=int, help="seconds per load level (default 10; smoke 1)")
    parser.add_argument("--repeats", type=int, help="big requests per server (default 5)")
    parser.add_argument("--no-floor", action="store_true", help="skip the in-process floor")
    parser.add_argument(
        "--no-deploy", action="store_true", help="skip deploy-to-Healthy (not run in smoke mode)"
    )
    args = parser.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in args.servers if s not in SERVERS]
    if unknown:
        parser.error(f"unknown server(s) {unknown}; known: {', '.join(SERVERS)}")
    return args


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import psutil

    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": [round(v, 2) for v in os.getloadavg()],
    }


EnvOutcome = BuiltEnv | Exception | None  # None: runs in the bench's own interpreter


def _envs(args: argparse.Namespace, sklearn_version: str, logs: Path) -> dict[str, EnvOutcome]:
    envs: dict[str, EnvOutcome] = {}
    shared: dict[str, EnvOutcome] = {}  # by env_name: modelport's variants share one venv
    for name in args.servers:
        requirements = SERVERS[name].requirements(sklearn_version)
        if requirements is None:
            envs[name] = None
            continue
        env_name = SERVERS[name].env_name or name
        if args.smoke and env_name == "modelport":  # no venv build in smoke mode: the bench's own
            envs[name] = None
            continue
        if env_name not in shared:
            print(f"[bench] venv for {env_name}: {' '.join(requirements)}", flush=True)
            try:
                shared[env_name] = ensure_env(
                    args.cache, env_name, requirements, logs / f"install-{env_name}.log"
                )
            except Exception as exc:  # reported in the results, the other servers still run
                shared[env_name] = exc
        envs[name] = shared[env_name]
    return envs


def main(argv: list[str] | None = None) -> int:
    procs.install_cleanup()
    args = parse_args(argv)
    import sklearn

    out: Path = args.out.resolve()
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    plan = Plan.make(args.smoke, load.tool_name(args.load_tool), args.load_seconds, args.repeats)
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": ["python", "-m", "bench.run", *(argv if argv is not None else sys.argv[1:])],
        "machine": _machine(),
        "plan": plan.__dict__,
        "memory_kind": "PSS",
        "baseline": report.BASELINE,
    }
    envs = _envs(args, sklearn.__version__, logs)

    model = trained_model(args.cache, args.smoke)
    print(f"[bench] model: {model.kind}, {model.train_rows} rows, cached={model.cached}", flush=True)
    x_test, y_test = load_split(train=False)
    x, labels = x_test[: plan.big_rows], y_test[: plan.big_rows]
    import joblib

    expected = joblib.load(model.path).predict(x)
    inputs = Inputs(x, labels, expected)
    accuracy = float((expected == labels).mean())
    results["model"] = {**model.__dict__, "path": str(model.path), "in_process_accuracy": accuracy}
    if not args.no_floor:
        print("[bench] in-process floor", flush=True)
        results["floor"] = measure_floor(model.path, inputs.body(V1(), "big"), plan.repeats)

    results["servers"] = {}
    workdir = Path(tempfile.mkdtemp(prefix="modelport-bench-"))
    try:
        for name in args.servers:
            server, env = SERVERS[name], envs[name]
            entry: dict[str, Any] = {"label": server.label, "protocol": server.protocol.name}
            results["servers"][name] = entry
            if isinstance(env, Exception):
                entry["error"] = f"install failed: {env}"
                continue
            entry["versions"] = server.versions(env)
            entry["version"] = entry["versions"].get(server.package, "?")
            if env is not None:
                entry["venv"] = {
                    "path": str(env.path),
                    "reused": env.reused,
                    "requirements": env.requirements,
                    "relaxed_pins": env.relaxed,
                }
            print(f"[bench] measuring {name} {entry['version']}", flush=True)
            try:
                entry.update(measure(server, env, model.path, inputs, plan, workdir, logs))
            except Exception as exc:  # e.g. laying out its files; measure() catches the rest
                entry["error"] = f"{type(exc).__name__}: {exc}"
            if entry.get("error"):
                print(f"[bench] {name} failed: {entry['error']}", file=sys.stderr, flush=True)
            elif not args.smoke and abs(entry["big"]["accuracy"] - FULL_ACCURACY) > ACCURACY_TOLERANCE:
                got = entry["big"]["accuracy"]
                entry["error"] = f"accuracy {got:.4f}, expected {FULL_ACCURACY} ± {ACCURACY_TOLERANCE}"
        if not args.no_floor:  # again: a floor is the least a step takes, and this machine is shared
            print("[bench] in-process floor, second pass", flush=True)
            again = measure_floor(model.path, inputs.body(V1(), "big"), plan.repeats)
            results["floor_passes"] = [results["floor"], again]
            results["floor"] = {k: min(v, again.get(k, v)) for k, v in results["floor"].items()}
        if "modelport" in args.servers and not (args.smoke or args.no_deploy):
            print("[bench] deploy-to-Healthy (Model.deploy with a cached environment)", flush=True)
            try:
                from bench.deploy import measure_deploy

                probe = inputs.x[:PROBE_ROWS]
                results["deploy"] = measure_deploy(
                    args.cache, model.path, probe, expected[:PROBE_ROWS].tolist()
                )
            except Exception as exc:  # reported; the servers' figures stand
                results["deploy"] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"[bench] deploy failed: {exc}", file=sys.stderr, flush=True)
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        results["machine"]["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
        if results["servers"]:
            results["vs_floor"] = report.floor_rows(results)  # issue 19: modelport / bare ASGI floor
            paths = report.write_all(results, out)
            print(report.printable(results))
            print("[bench] wrote " + ", ".join(str(p) for p in paths))
    failed = [n for n, s in results["servers"].items() if s.get("error")]
    return 1 if failed else 0


def cli() -> int:
    """``main()`` with Ctrl-C reported in one line (the servers are stopped, partial results written)."""
    try:
        return main()
    except KeyboardInterrupt:
        print("[bench] interrupted; servers stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(cli())
