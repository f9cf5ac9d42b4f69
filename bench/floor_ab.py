"""``python -m bench.floor_ab``: modelport against the bare ASGI floor, interleaved, medians.

``bench.run`` measures one server after the other, so on a shared machine a neighbour's job can
land on one server's minute and not the other's. Here both servers run at once, in the same venv,
and each round measures every server at each level, alternating which goes first; the figures are
the medians of the rounds, and each round's load average is recorded with it. Cold starts
(launch to the first correct 200) alternate the same way, each server started and stopped alone.

Example::

    .venv/bin/python -m bench.floor_ab                       # 6 rounds x 10 s at c=1 and c=64
    .venv/bin/python -m bench.floor_ab --rounds 4 --seconds 5 --servers modelport,modelport-typed,asgi-floor

Prints a table per level (each round's req/s and p99, the medians, the ratio to the floor) and
writes ``floor_ab.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil

from bench import load, procs
from bench.coldstart_ab import _git, tree_env
from bench.envs import ensure_env
from bench.measure import PROBE_ROWS, Inputs, Plan, _cold_start
from bench.model import REPO, load_split, trained_model
from bench.run import _default_cache, _machine
from bench.servers import FLOOR, SERVERS, Modelport, Server


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_ab", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--servers", default=f"modelport,{FLOOR}", help="comma-separated; the floor is the reference"
    )
    parser.add_argument("--rounds", type=int, default=6, help="load rounds (order alternates each round)")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per level and server per round")
    parser.add_argument("--levels", default="1,64", help="concurrencies, comma-separated")
    parser.add_argument("--cold-starts", type=int, default=5, help="launches of each server (0: none)")
    parser.add_argument(
        "--tree",
        action="append",
        default=[],
        help="NAME=PATH: also modelport from another source tree, as server modelport-NAME (its own venv)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny model, the bench's own interpreter")
    parser.add_argument("--cache", type=Path, default=_default_cache())
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    args.trees = {}
    for spec in args.tree:
        name, _, path = spec.partition("=")
        if not path or not (Path(path) / "modelport").is_dir():
            parser.error(f"--tree {spec!r}: expected NAME=PATH of a modelport source tree")
        args.trees[f"modelport-{name}"] = Path(path).resolve()
    args.servers[1:1] = list(args.trees)  # right after the first, so the floor's neighbours alternate
    unknown = [s for s in args.servers if s not in SERVERS and s not in args.trees]
    if unknown:
        parser.error(f"unknown server(s) {unknown}; known: {', '.join(SERVERS)}")
    args.levels = [int(c) for c in args.levels.split(",")]
    return args


def _loadavg() -> float:
    return round(os.getloadavg()[0], 2)


class Live:
    """A started server and its port."""

    def __init__(self, server: Server, proc: procs.ServerProcess, port: int) -> None:
        self.server, self.proc, self.port = server, proc, port


def _start(server: Server, env: Any, model: Path, workdir: Path, logs: Path, tag: str) -> tuple[Live, float]:
    ports = [procs.free_port() for _ in range(server.ports_needed)]
    launch = server.launch(env, workdir / f"{server.name}-{tag}", model, ports)
    proc = procs.start(launch.cmd, launch.cwd, launch.env, logs / f"{server.name}-{tag}.log")
    return Live(server, proc, launch.port), proc.started_at


def _servers(args: argparse.Namespace) -> dict[str, Server]:
    """The servers by name: the bench's, and modelport from each ``--tree`` (same launch, its venv)."""
    found: dict[str, Server] = {n: SERVERS[n] for n in args.servers if n in SERVERS}
    for name, path in args.trees.items():
        found[name] = _TreeModelport(name, path)
    return found


class _TreeModelport(Modelport):
    """modelport as ``bench.servers`` launches it, from another source tree's venv."""

    def __init__(self, name: str, tree: Path) -> None:
        super().__init__(name, f"modelport from {tree}")
        self.tree = tree

    def versions(self, env: Any) -> dict[str, str]:
        found = dict(env.installed) if env is not None else {}
        found["git"] = _git(self.tree)
        return found


def _cpu_s(proc: procs.ServerProcess) -> float:
    """User + system CPU seconds of the server's process tree so far."""
    total = 0.0
    for p in proc.tree():
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def _order(names: list[str], round_no: int) -> list[str]:
    """Round 0: as given; round 1: reversed; and so on."""
    return list(names) if round_no % 2 == 0 else list(reversed(names))


def main(argv: list[str] | None = None) -> int:
    procs.install_cleanup()
    args = parse_args(argv)
    import sklearn

    out: Path = args.out.resolve()
    logs = out / "logs-floor-ab"
    logs.mkdir(parents=True, exist_ok=True)
    tool = load.tool_name("auto")
    plan = Plan.make(args.smoke, tool, args.seconds, 1)
    envs: dict[str, Any] = {}
    servers = _servers(args)
    for name in args.servers:
        server = servers[name]
        if name in args.trees:
            envs[name] = tree_env(args.cache, name.removeprefix("modelport-"), args.trees[name], logs)
            continue
        requirements = None if args.smoke else server.requirements(sklearn.__version__)
        envs[name] = (
            None
            if requirements is None
            else ensure_env(args.cache, server.env_name or name, requirements, logs / f"install-{name}.log")
        )
    model = trained_model(args.cache, smoke=args.smoke)
    x_test, y_test = load_split(train=False)
    x = x_test[:PROBE_ROWS]
    import joblib

    inputs = Inputs(x, y_test[:PROBE_ROWS], joblib.load(model.path).predict(x))
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": ["python", "-m", "bench.floor_ab", *(argv if argv is not None else sys.argv[1:])],
        "machine": _machine(),
        "load_tool": tool,
        "seconds": args.seconds,
        "servers": args.servers,
        "versions": {n: servers[n].versions(envs[n]) for n in args.servers},
        "trees": {n: str(path) for n, path in args.trees.items()},
    }
    workdir = Path(tempfile.mkdtemp(prefix="modelport-floor-ab-"))
    try:
        results["cold_starts"] = _cold_starts(args, servers, envs, model.path, inputs, plan, workdir, logs)
        results["rounds"] = _rounds(args, servers, envs, model.path, inputs, plan, workdir, logs)
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        results["machine"]["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    results["summary"] = summarize(results, args.levels)
    out.mkdir(parents=True, exist_ok=True)
    (out / "floor_ab.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(printable(results))
    print(f"[floor_ab] wrote {out / 'floor_ab.json'}")
    return 0


def _cold_starts(
    args: argparse.Namespace,
    servers: dict[str, Server],
    envs: dict[str, Any],
    model: Path,
    inputs: Inputs,
    plan: Plan,
    workdir: Path,
    logs: Path,
) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {n: [] for n in args.servers}
    for i in range(args.cold_starts):
        for name in _order(args.servers, i):
            live, _ = _start(servers[name], envs[name], model, workdir, logs, f"cold{i}")
            try:
                seconds = _cold_start(live.proc, live.port, live.server, inputs, plan)["seconds"]
            finally:
                procs.stop(live.proc)
            found[name].append(round(seconds, 3))
            print(f"[floor_ab] cold start {i + 1}/{args.cold_starts} {name}: {seconds:.3f} s", flush=True)
    return found


def _rounds(
    args: argparse.Namespace,
    servers: dict[str, Server],
    envs: dict[str, Any],
    model: Path,
    inputs: Inputs,
    plan: Plan,
    workdir: Path,
    logs: Path,
) -> list[dict[str, Any]]:
    lives: dict[str, Live] = {}
    for name in args.servers:
        live, _ = _start(servers[name], envs[name], model, workdir, logs, "load")
        _cold_start(live.proc, live.port, live.server, inputs, plan)
        lives[name] = live
    body = {n: inputs.body(lives[n].server.protocol, "row") for n in args.servers}
    for name, live in lives.items():  # one warm-up each at each level, not counted
        for c in args.levels:
            protocol = live.server.protocol
            load.run_level(
                plan.load_tool,
                live.port,
                protocol.path,
                body[name],
                c,
                plan.warmup_seconds,
                protocol.content_type,
            )
    rounds = []
    for r in range(args.rounds):
        entry: dict[str, Any] = {"round": r + 1, "loadavg_start": _loadavg(), "levels": {}}
        for c in args.levels:
            level: dict[str, Any] = {}
            for name in _order(args.servers, r):
                live = lives[name]
                protocol = live.server.protocol
                cpu = _cpu_s(live.proc)
                got = load.run_level(
                    plan.load_tool,
                    live.port,
                    protocol.path,
                    body[name],
                    c,
                    args.seconds,
                    protocol.content_type,
                )
                if not live.proc.alive():
                    raise RuntimeError(f"{name} exited during the load:\n{live.proc.log_tail()}")
                level[name] = got.to_json()
                # The server's own CPU per answered request: what it costs, whatever the neighbours
                # take from the machine (req/s and p99 move with them; this moves much less).
                level[name]["cpu_ms_per_request"] = (_cpu_s(live.proc) - cpu) * 1e3 / max(1, got.ok)
                errors = sum(got.errors.values())
                print(
                    f"[floor_ab] round {r + 1}/{args.rounds} c={c} {name}: {got.rps:,.0f} req/s, "
                    f"p50 {got.p50_ms:.1f} ms, p99 {got.p99_ms:.1f} ms, "
                    f"cpu {level[name]['cpu_ms_per_request']:.3f} ms/request, errors {errors}",
                    flush=True,
                )
            entry["levels"][str(c)] = level
        entry["loadavg_end"] = _loadavg()
        rounds.append(entry)
    return rounds


def summarize(results: dict[str, Any], levels: list[int]) -> dict[str, Any]:
    """Medians per server and level, and each server's ratio to the floor (per round and median)."""
    names = results["servers"]
    summary: dict[str, Any] = {"cold_start_median_s": {}}
    for name, seconds in (results.get("cold_starts") or {}).items():
        if seconds:
            summary["cold_start_median_s"][name] = statistics.median(seconds)
    for c in levels:
        per: dict[str, Any] = {}
        rounds = [r["levels"][str(c)] for r in results.get("rounds") or []]
        for name in names:
            rps = [r[name]["rps"] for r in rounds]
            p99 = [r[name]["p99_ms"] for r in rounds]
            cpu = [r[name]["cpu_ms_per_request"] for r in rounds]
            per[name] = {
                "rps": rps,
                "p99_ms": p99,
                "cpu_ms_per_request": cpu,
                "cpu_ms_median": statistics.median(cpu) if cpu else None,
                "rps_median": statistics.median(rps) if rps else None,
                "p99_median_ms": statistics.median(p99) if p99 else None,
                "errors": sum(sum(r[name]["errors"].values()) for r in rounds),
            }
            if FLOOR in names and name != FLOOR and rps:
                ratios = [r[name]["rps"] / r[FLOOR]["rps"] for r in rounds]
                per[name]["rps_ratio"] = ratios
                per[name]["rps_ratio_median"] = statistics.median(ratios)
                per[name]["p99_ratio_median"] = statistics.median(
                    [r[name]["p99_ms"] / r[FLOOR]["p99_ms"] for r in rounds]
                )
        summary[f"c={c}"] = per
    return summary


def printable(results: dict[str, Any]) -> str:
    """A markdown table per level: each round's req/s (p99 ms), the medians and the ratios."""
    summary = results["summary"]
    names = results["servers"]
    lines = [
        f"{results['date']}, load average {results['machine']['loadavg_start']} -> "
        f"{results['machine']['loadavg_end']}, {results['load_tool']}, {results['seconds']} s per level"
    ]
    for key, per in summary.items():
        if not key.startswith("c="):
            continue
        lines += [
            "",
            f"{key}: req/s (p99 ms) per round, median; ratio = server / {FLOOR} in the same round",
            "",
        ]
        count = len(per[names[0]]["rps"])
        header = ["server", *(f"round {i + 1}" for i in range(count))]
        header += ["median req/s", "median p99 ms", "median ratio", "CPU ms/request", "errors"]
        lines += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
        for name in names:
            s = per[name]
            cells = [f"{rps:,.0f} ({p99:.1f})" for rps, p99 in zip(s["rps"], s["p99_ms"], strict=True)]
            ratio = f"{s['rps_ratio_median']:.2f}x" if "rps_ratio_median" in s else "-"
            lines.append(
                f"| {name} | " + " | ".join(cells) + f" | {s['rps_median']:,.0f} | {s['p99_median_ms']:.1f} "
                f"| {ratio} | {s['cpu_ms_median']:.3f} | {s['errors']} |"
            )
    loads = [(r["loadavg_start"], r["loadavg_end"]) for r in results.get("rounds") or []]
    lines += ["", "load average per round (start, end): " + ", ".join(f"{a}-{b}" for a, b in loads)]
    cold = summary.get("cold_start_median_s") or {}
    if cold:
        lines.append("")
        for name, median in cold.items():
            each = ", ".join(f"{s:.3f}" for s in results["cold_starts"][name])
            lines.append(f"cold start {name}: median {median:.3f} s ({each})")
    return "\n".join(lines)


def cli() -> int:
    try:
        return main()
    except KeyboardInterrupt:
        print("[floor_ab] interrupted; servers stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(cli())
