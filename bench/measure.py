"""Measure one server: cold start, the big JSON request, single-row load, memory of its process tree."""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import client, load, procs
from bench.envs import BuiltEnv
from bench.servers import V1, V2, Server

MB = 1024 * 1024
PROBE_ROWS = 10
PEAK_REPEATS = 2  # big requests sent while sampling memory, after the timed ones


@dataclass
class Plan:
    """Sizes and durations of one run (``--smoke`` shrinks them)."""

    smoke: bool
    big_rows: int
    repeats: int
    levels: tuple[int, ...]
    load_seconds: int
    warmup_seconds: int
    load_tool: str
    start_deadline_s: float
    request_timeout_s: float = 600.0
    settle_s: float = 2.0

    @classmethod
    def make(cls, smoke: bool, load_tool: str, load_seconds: int | None, repeats: int | None) -> Plan:
        return cls(
            smoke=smoke,
            big_rows=200 if smoke else 10_000,
            repeats=repeats or 5,
            levels=(1, 8, 64),
            load_seconds=load_seconds or (1 if smoke else 10),
            warmup_seconds=1 if smoke else 2,
            load_tool=load_tool,
            start_deadline_s=60.0 if smoke else 180.0,
            settle_s=0.5 if smoke else 2.0,
        )


@dataclass
class Inputs:
    """The test rows and, per protocol, their request bodies (encoded once, on first use)."""

    x: np.ndarray  # the big request's rows, / 255
    labels: np.ndarray
    expected: np.ndarray  # the model's own predictions for x, in this process
    _bodies: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def body(self, protocol: V1 | V2, which: str) -> bytes:
        key = (type(protocol).__name__, which)
        if key not in self._bodies:
            rows = {"big": self.x, "probe": self.x[:PROBE_ROWS], "row": self.x[:1]}[which]
            self._bodies[key] = protocol.body(rows)
        return self._bodies[key]


def _headers(server: Server, body: bytes) -> dict[str, str]:
    """Headers a protocol sends beside Content-Type (V2 binary: the JSON header's length)."""
    headers = getattr(server.protocol, "headers", None)
    return dict(headers(body)) if headers is not None else {}


def _idle_memory(proc: procs.ServerProcess, samples: int = 5) -> dict[str, float | None]:
    rss, pss = [], []
    for _ in range(samples):
        mem = procs.tree_memory(proc.tree())
        rss.append(mem.rss)
        if mem.pss is not None:
            pss.append(mem.pss)
        time.sleep(0.1)
    return {"rss_mb": statistics.median(rss) / MB, "pss_mb": statistics.median(pss) / MB if pss else None}


def _cold_start(
    proc: procs.ServerProcess, port: int, server: Server, inputs: Inputs, plan: Plan
) -> dict[str, Any]:
    """Poll with a real scoring request until the first 200 whose predictions are right."""
    body, expected = inputs.body(server.protocol, "probe"), inputs.expected[:PROBE_ROWS].tolist()
    deadline = proc.started_at + plan.start_deadline_s
    attempts, last = 0, "no reply"
    while time.perf_counter() < deadline:
        if not proc.alive():
            code = proc.popen.returncode
            raise RuntimeError(f"server exited with {code} before serving:\n{proc.log_tail()}")
        attempts += 1
        try:
            remaining = max(0.1, deadline - time.perf_counter())
            reply = client.post(
                port,
                server.protocol.path,
                body,
                remaining,
                server.protocol.content_type,
                _headers(server, body),
            )
        except OSError as exc:
            last = repr(exc)
            time.sleep(0.02)
            continue
        if reply.status == 200 and server.protocol.predictions(reply.body) == expected:
            return {"seconds": time.perf_counter() - proc.started_at, "attempts": attempts}
        last = f"{reply.status} {reply.body[:200]!r}"
        time.sleep(0.02)
    limit = plan.start_deadline_s
    raise RuntimeError(f"no correct reply within {limit:.0f} s (last: {last}):\n{proc.log_tail()}")


def _big_request(
    proc: procs.ServerProcess, port: int, server: Server, inputs: Inputs, plan: Plan
) -> dict[str, Any]:
    """``plan.repeats`` timed requests, then ``PEAK_REPEATS`` more while sampling memory.

    The sampler reads ``/proc/<pid>/smaps_rollup`` of the server's tree every 20 ms, which takes
    the kernel's memory-map lock of the process it reads; a process allocating hundreds of MB
    waits for it (measured: +50-60 ms on a 0.25 s request). So the timed requests run unsampled."""
    body = inputs.body(server.protocol, "big")
    kind = server.protocol.content_type
    times, sampled_times, peaks_rss, peaks_pss, accuracy, agreement = [], [], [], [], [], []
    samples = 0
    for i in range(plan.repeats + PEAK_REPEATS):
        sampler = procs.PeakSampler(proc)
        with sampler.running() if i >= plan.repeats else contextlib.nullcontext():
            reply = client.post(
                port, server.protocol.path, body, plan.request_timeout_s, kind, _headers(server, body)
            )
        if reply.status != 200:
            raise RuntimeError(f"big request: status {reply.status}: {reply.body[:300]!r}")
        predicted = np.asarray(server.protocol.predictions(reply.body))
        accuracy.append(float(np.mean(predicted == inputs.labels)))
        agreement.append(float(np.mean(predicted == inputs.expected)))
        if i < plan.repeats:
            times.append(reply.seconds)
            continue
        sampled_times.append(reply.seconds)
        peaks_rss.append(sampler.peak_rss / MB)
        peaks_pss.append(sampler.peak_pss / MB)
        samples += sampler.samples
    return {
        "rows": len(inputs.x),
        "body_mb": len(body) / 1e6,
        "seconds": times,
        "median_s": statistics.median(times),
        "sampled_seconds": sampled_times,
        "accuracy": accuracy[0],
        "agreement_with_in_process": min(agreement),
        "peak_rss_mb": max(peaks_rss),
        "peak_pss_mb": max(peaks_pss) or None,
        "memory_samples_per_s": samples / sum(sampled_times),
    }


def _load(port: int, server: Server, inputs: Inputs, plan: Plan) -> list[dict[str, Any]]:
    body = inputs.body(server.protocol, "row")
    levels = []
    for concurrency in plan.levels:
        path, kind, headers = server.protocol.path, server.protocol.content_type, _headers(server, body)
        load.run_level(
            plan.load_tool, port, path, body, concurrency, plan.warmup_seconds, kind, headers
        )  # warm-up
        result = load.run_level(
            plan.load_tool, port, path, body, concurrency, plan.load_seconds, kind, headers
        )
        levels.append(result.to_json())
    return levels


def measure(
    server: Server,
    env: BuiltEnv | None,
    model_path: Path,
    inputs: Inputs,
    plan: Plan,
    workdir: Path,
    logs: Path,
) -> dict[str, Any]:
    """Every figure for one server; what was measured before a failure is kept, with the error."""
    ports = [procs.free_port() for _ in range(server.ports_needed)]
    launch = server.launch(env, workdir / server.name, model_path, ports)
    result: dict[str, Any] = {"command": launch.cmd, "settings": launch.settings, "error": None}
    proc = procs.start(launch.cmd, launch.cwd, launch.env, logs / f"{server.name}.log")
    try:
        result["cold_start"] = _cold_start(proc, launch.port, server, inputs, plan)
        result["listening"] = procs.listen_addresses(proc)
        exposed = [a for a in result["listening"] if not procs.is_loopback(a)]
        if exposed:
            raise RuntimeError(f"listens beyond loopback: {exposed}; stopped")
        time.sleep(plan.settle_s)
        memory: dict[str, Any] = {"idle": _idle_memory(proc)}
        result["memory"] = memory
        result["big"] = _big_request(proc, launch.port, server, inputs, plan)
        memory["peak_big"] = {"rss_mb": result["big"]["peak_rss_mb"], "pss_mb": result["big"]["peak_pss_mb"]}
        time.sleep(plan.settle_s)
        memory["after_big"] = _idle_memory(proc)
        result["load"] = _load(launch.port, server, inputs, plan)
        time.sleep(plan.settle_s)
        memory["after_load"] = _idle_memory(proc)
        memory["processes"] = len(proc.tree())
    except Exception as exc:  # one server failing must not lose the others' figures
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):
            result["log_tail"] = proc.log_tail(15) if result["error"] else None
        procs.stop(proc)
        result["pids"] = {str(pid): created for pid, created in proc.seen.items()}  # all gone by now
    return result
