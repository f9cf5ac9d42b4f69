"""Turn a run's results into a printed table, ``results.json``, ``results.md`` and ``results.png``.

Every figure is also shown as a ratio to the baseline server (azmlinfsrv) when it was measured:
below 1x is better for times, latencies and memory; above 1x is better for req/s. When both
modelport and the bare ASGI floor (``asgi-floor``) ran, a second table gives modelport's single-row
req/s and p99 as a share of the floor's at 1 and 64 connections (issue 19).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASELINE = "azmlinfsrv"


@dataclass
class Metric:
    label: str
    unit: str
    get: Callable[[dict[str, Any]], float | None]
    digits: int = 2


def _path(*keys: str | int) -> Callable[[dict[str, Any]], float | None]:
    def get(result: dict[str, Any]) -> float | None:
        value: Any = result
        for key in keys:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                return None
        return None if value is None else float(value)

    return get


def _memory(phase: str) -> Callable[[dict[str, Any]], float | None]:
    def get(result: dict[str, Any]) -> float | None:
        return _path("memory", phase, "pss_mb")(result) or _path("memory", phase, "rss_mb")(result)

    return get


def metrics(results: dict[str, Any]) -> list[Metric]:
    """The table's rows, in order."""
    plan = results["plan"]
    big = _path("big", "median_s")
    rows = [
        Metric("cold start (launch to first correct 200)", "s", _path("cold_start", "seconds")),
        Metric(f"{plan['big_rows']:,}-row JSON request, median of {plan['repeats']}", "s", big),
        Metric("accuracy of its predictions", "", _path("big", "accuracy"), 4),
    ]
    for i, c in enumerate(plan["levels"]):
        rows.append(Metric(f"1 row/request, {c} concurrent: throughput", "req/s", _path("load", i, "rps"), 0))
        rows.append(Metric(f"1 row/request, {c} concurrent: p50", "ms", _path("load", i, "p50_ms"), 1))
        rows.append(Metric(f"1 row/request, {c} concurrent: p99", "ms", _path("load", i, "p99_ms"), 1))
        rows.append(Metric(f"1 row/request, {c} concurrent: errors", "", _errors(i), 0))
    kind = results.get("memory_kind", "PSS")
    rows += [
        Metric(f"memory idle after start ({kind})", "MB", _memory("idle"), 0),
        Metric(f"memory peak during the big request ({kind})", "MB", _memory("peak_big"), 0),
        Metric(f"memory idle after the big request ({kind})", "MB", _memory("after_big"), 0),
        Metric(f"memory idle after the load ({kind})", "MB", _memory("after_load"), 0),
    ]
    return rows


def _errors(level: int) -> Callable[[dict[str, Any]], float | None]:
    def get(result: dict[str, Any]) -> float | None:
        try:
            return float(sum(result["load"][level]["errors"].values()))
        except (KeyError, IndexError, TypeError):
            return None

    return get


def _cell(metric: Metric, value: float | None, base: float | None) -> str:
    if value is None:
        return "-"
    text = f"{value:,.{metric.digits}f}{' ' + metric.unit if metric.unit else ''}"
    if base and metric.unit:
        text += f" ({value / base:.2f}x)"
    return text


def table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per figure, one column per server."""
    servers = results["servers"]
    names = list(servers)
    header = ["figure", *(f"{n} {servers[n].get('version', '')}".strip() for n in names)]
    rows = []
    for metric in metrics(results):
        base = metric.get(servers[BASELINE]) if BASELINE in servers else None
        rows.append([metric.label, *(_cell(metric, metric.get(servers[n]), base) for n in names)])
    return header, rows


@dataclass
class Goal:
    text: str
    value: float | None
    limit: float
    at_most: bool  # the value must be <= limit (else >=)
    shown: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.limit if self.at_most else self.value >= self.limit


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def goals(results: dict[str, Any]) -> list[Goal]:
    """Issue 6's goals, each from this run's figures (None where a figure is missing)."""
    servers = results["servers"]

    def get(name: str, fn: Callable[[dict[str, Any]], float | None]) -> float | None:
        server = servers.get(name)
        return fn(server) if server is not None and not server.get("error") else None

    big, cold = _path("big", "median_s"), _path("cold_start", "seconds")
    rps, p99 = _path("load", 2, "rps"), _path("load", 2, "p99_ms")
    az, mp, typed, npy, batch = (
        "azmlinfsrv",
        "modelport",
        "modelport-typed",
        "modelport-npy",
        "modelport-batch",
    )
    ml, v2, v2bin = "mlserver", "modelport-v2", "modelport-v2-binary"
    floor = (results.get("floor") or {}).get("typed_parse_predict_s")
    deploy = (results.get("deploy") or {}).get("median_s")
    idle, after = _memory("idle"), _memory("after_big")
    return [
        Goal(
            "tutorial score.py, 10k rows: time vs azmlinfsrv", _ratio(get(mp, big), get(az, big)), 0.9, True
        ),
        Goal("typed JSON, 10k rows: time vs azmlinfsrv", _ratio(get(typed, big), get(az, big)), 0.25, True),
        Goal(
            "typed JSON, 10k rows: time vs in-process parse + predict",
            _ratio(get(typed, big), floor),
            1.3,
            True,
        ),
        Goal(
            "npy, 10k rows: times faster than azmlinfsrv's JSON",
            _ratio(get(az, big), get(npy, big)),
            20,
            False,
        ),
        Goal(
            "64 concurrent, no batching: req/s vs azmlinfsrv", _ratio(get(mp, rps), get(az, rps)), 1.2, False
        ),
        Goal("64 concurrent, no batching: p99 vs azmlinfsrv", _ratio(get(mp, p99), get(az, p99)), 1.0, True),
        Goal("64 concurrent, batching: req/s vs azmlinfsrv", _ratio(get(batch, rps), get(az, rps)), 3, False),
        Goal("64 concurrent, batching: p99 vs azmlinfsrv", _ratio(get(batch, p99), get(az, p99)), 0.5, True),
        Goal("cold start vs azmlinfsrv", _ratio(get(mp, cold), get(az, cold)), 0.8, True),
        Goal("deploy-to-Healthy (cached env) vs own cold start", _ratio(deploy, get(mp, cold)), 1.5, True),
        Goal("idle memory vs azmlinfsrv", _ratio(get(mp, idle), get(az, idle)), 1.0, True),
        Goal("memory after the 10k request vs own idle", _ratio(get(mp, after), get(mp, idle)), 1.2, True),
        # issue 15: the Open Inference (V2) rows against MLServer's V2 JSON
        Goal("V2 JSON, 10k rows: time vs MLServer", _ratio(get(v2, big), get(ml, big)), 0.5, True),
        Goal("V2 binary, 10k rows: time vs modelport npy", _ratio(get(v2bin, big), get(npy, big)), 1.2, True),
        Goal("V2 JSON, 64 concurrent: req/s vs MLServer", _ratio(get(v2, rps), get(ml, rps)), 1.2, False),
    ]


FLOOR = "asgi-floor"
FLOOR_LEVELS = (1, 64)
FLOOR_GOAL = 0.9
"""Issue 19: modelport's single-row req/s at least this share of the bare ASGI floor's, p99 no worse."""


def _level(server: dict[str, Any] | None, concurrency: int) -> dict[str, Any] | None:
    if server is None or server.get("error"):
        return None
    for level in server.get("load") or []:
        if level.get("concurrency") == concurrency:
            return dict(level)
    return None


def floor_rows(results: dict[str, Any], name: str = "modelport") -> list[dict[str, Any]]:
    """``name`` against the bare ASGI floor at c=1 and c=64: req/s and p99 of each, and the ratios."""
    servers = results["servers"]
    rows = []
    for c in FLOOR_LEVELS:
        mine, floor = _level(servers.get(name), c), _level(servers.get(FLOOR), c)
        if mine is None or floor is None:
            continue
        rows.append(
            {
                "concurrency": c,
                "rps": mine["rps"],
                "floor_rps": floor["rps"],
                "rps_ratio": _ratio(mine["rps"], floor["rps"]),
                "p99_ms": mine["p99_ms"],
                "floor_p99_ms": floor["p99_ms"],
                "p99_ratio": _ratio(mine["p99_ms"], floor["p99_ms"]),
            }
        )
    return rows


def floor_markdown(results: dict[str, Any]) -> list[str]:
    """The modelport / floor table (issue 19's goal: req/s >= 0.9x at c=1 and c=64, p99 no worse)."""
    rows = floor_rows(results)
    if not rows:
        return []
    lines = [
        "",
        f"| level | modelport req/s | {FLOOR} req/s | ratio (goal >= {FLOOR_GOAL:g}x) "
        f"| modelport p99 | {FLOOR} p99 | p99 ratio (goal <= 1x) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| c={r['concurrency']} | {r['rps']:,.0f} | {r['floor_rps']:,.0f} | {r['rps_ratio']:.2f}x "
            f"| {r['p99_ms']:,.1f} ms | {r['floor_p99_ms']:,.1f} ms | {r['p99_ratio']:.2f}x |"
        )
    return lines


def goals_markdown(results: dict[str, Any]) -> list[str]:
    lines = ["", "| goal (issue 6) | limit | this run | met |", "|---|---|---|---|"]
    for goal in goals(results):
        limit = f"{'<=' if goal.at_most else '>='} {goal.limit:g}x"
        value = "-" if goal.value is None else f"{goal.value:.2f}x"
        met = {True: "yes", False: "**no**", None: "-"}[goal.met]
        lines.append(f"| {goal.text} | {limit} | {value} | {met} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    header, rows = table(results)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    deploy = results.get("deploy") or {}
    if deploy.get("median_s") is not None:
        lines += ["", f"Deploy-to-Healthy with a cached environment (`Model.deploy` + `wait_for_deployment`, "
                  f"median of {deploy['repeats']}): {deploy['median_s']:.2f} s "
                  f"(each: {', '.join(f'{s:.2f}' for s in deploy['seconds'])} s; the first, not counted: "
                  f"{deploy['first_s']:.2f} s)."]  # fmt: skip
    elif deploy.get("error"):
        lines += ["", f"Deploy-to-Healthy failed: {deploy['error']}"]
    floor = results.get("floor")
    if floor:
        parts = [
            f"{k.removesuffix('_s').replace('_', ' ')} {v:.3f} s"
            for k, v in floor.items()
            if k.endswith("_s")
        ]
        lines += ["", "In-process floor (median): " + "; ".join(parts) + "."]
    if "azmlinfsrv" in results["servers"]:
        lines += goals_markdown(results)
    lines += floor_markdown(results)
    machine = results["machine"]
    notes = [
        "",
        f"Date {results['date']}; {machine['cores']} cores ({machine['cpu_model']}), "
        f"Python {machine['python']}; load average {machine['loadavg_start']} at start, "
        f"{machine['loadavg_end']} at the end.",
        f"Load generator: {results['plan']['load_tool']}; ratios are to {BASELINE} "
        "(below 1x is better, except for req/s).",
    ]
    for name, server in results["servers"].items():
        if server.get("error"):
            notes.append(f"**{name} failed**: {server['error'].splitlines()[0]}")
    return "\n".join(lines + notes) + "\n"


def printable(results: dict[str, Any]) -> str:
    header, rows = table(results)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    if "azmlinfsrv" in results["servers"]:
        lines += [line for line in goals_markdown(results) if line and not line.startswith("|---")]
    lines += [line for line in floor_markdown(results) if line and not line.startswith("|---")]
    return "\n".join(lines)


def chart(results: dict[str, Any], path: Path) -> None:
    """A bar chart per figure group, one colour per server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = results["servers"]
    names = list(servers)
    plan = results["plan"]
    groups: list[tuple[str, list[str], list[Callable[[dict[str, Any]], float | None]]]] = [
        ("cold start (s)", [""], [_path("cold_start", "seconds")]),
        (f"{plan['big_rows']:,}-row JSON request (s)", [""], [_path("big", "median_s")]),
        ("1-row req/s by concurrency", [str(c) for c in plan["levels"]],
         [_path("load", i, "rps") for i in range(len(plan["levels"]))]),
        ("1-row p99 latency (ms) by concurrency", [str(c) for c in plan["levels"]],
         [_path("load", i, "p99_ms") for i in range(len(plan["levels"]))]),
        (f"memory ({results.get('memory_kind', 'PSS')}, MB)", ["idle", "peak big", "after big", "after load"],
         [_memory(p) for p in ("idle", "peak_big", "after_big", "after_load")]),
    ]  # fmt: skip
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    width = 0.8 / max(1, len(names))
    for ax, (title, ticks, getters) in zip(axes.flat, groups, strict=False):
        for j, name in enumerate(names):
            found = [g(servers[name]) for g in getters]
            values = [math.nan if v is None else v for v in found]
            xs = [i + (j - (len(names) - 1) / 2) * width for i in range(len(getters))]
            bars = ax.bar(xs, [0.0 if math.isnan(v) else v for v in values], width, label=name, color=f"C{j}")
            labels = ["n/a" if math.isnan(v) else f"{v:,.0f}" if v >= 100 else f"{v:.3g}" for v in values]
            ax.bar_label(bars, labels=labels, fontsize=7)
        ax.set_title(title)
        ax.set_xticks(range(len(ticks)), ticks)

    def failed(name: str) -> str:
        return "  FAILED (see results.md)" if servers[name].get("error") else ""

    text_ax = axes.flat[-1]
    text_ax.axis("off")
    machine = results["machine"]
    text_ax.text(
        0,
        0.95,
        "\n".join(
            [
                f"{results['date']}",
                f"{machine['cores']} cores, {machine['cpu_model']}",
                f"Python {machine['python']}",
                f"load avg {machine['loadavg_start']} -> {machine['loadavg_end']}",
                f"load tool: {plan['load_tool']}, {plan['load_seconds']} s per level",
                *(f"{n}: {servers[n].get('version', '?')}{failed(n)}" for n in names),
                "smoke run (tiny sizes)" if plan["smoke"] else "",
            ]
        ),
        va="top",
        fontsize=9,
        family="monospace",
    )
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("modelport benchmark: each server with its default single worker, tutorial MNIST model")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_all(results: dict[str, Any], out: Path) -> list[Path]:
    """results.json, results.md and results.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "results.md", out / "results.png"]
    paths[0].write_text(json.dumps(results, indent=2, default=str) + "\n")
    paths[1].write_text(markdown(results))
    chart(results, paths[2])
    return paths
