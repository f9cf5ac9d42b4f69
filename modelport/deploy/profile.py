"""Model profiling (v1's ``Model.profile``), measured for real on this machine.

The models are deployed as a temporary local service with the CPU and memory asked for; the
dataset's requests are replayed against it, one at a time (latency), then from several clients at
once (throughput, CPU); memory is the service's process tree sampled throughout. The service is
deleted afterwards; the figures are kept in the workspace (``profiles/<name>.json``).
"""

from __future__ import annotations

import datetime
import json
import math
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from modelport.deploy import engine
from modelport.deploy.spec import DeploymentSpec
from modelport.errors import InvalidInputError, ModelportError, NotFoundError
from modelport.workspace import Workspace

__all__ = ["ProfileRun", "load_profile", "run_profile"]

CONCURRENCY = 4
THROUGHPUT_SECONDS = 3.0
MAX_LATENCY_REQUESTS = 500
MIN_LATENCY_REQUESTS = 30
HEADROOM = 1.2  # recommendations leave 20% above what was measured


@dataclass
class ProfileRun:
    """A profile to take: ``spec`` deployed (with the CPU and memory asked for), ``requests`` replayed."""

    name: str
    spec: DeploymentSpec
    requests: list[bytes]
    description: str | None = None


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


class _Sampler:
    """Samples the service's memory (RSS summed over its processes) until stopped."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self._pids = pids
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            total = 0
            for pid in self._pids():
                try:
                    total += psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    pass
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(0.05)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def _round_up(value: float, step: float = 0.1) -> float:
    return round(max(step, math.ceil(value / step) * step), 2)


def run_profile(ws: Workspace, run: ProfileRun, say: Callable[[str], None]) -> dict[str, Any]:
    """Deploy, replay, measure, delete; the figures (v1's ``get_details()`` keys), also saved."""
    if not run.requests:
        raise InvalidInputError("input_dataset has no rows: give at least one request body")
    service = f"prof-{uuid.uuid4().hex[:10]}"
    created = datetime.datetime.now(datetime.UTC).isoformat()
    say(f"profiling {', '.join(run.spec.models)} as temporary service {service}")
    record = engine.deploy(ws, service, run.spec)
    try:
        record = engine.wait(ws, service, timeout=600)
        say(f"service Healthy; replaying {len(run.requests)} request(s)")
        client = engine.client(ws, record)
        latencies: list[float] = []
        failures = 0
        first_error: list[str] = []

        def pids() -> list[int]:
            return engine.processes(record)

        count = min(MAX_LATENCY_REQUESTS, max(MIN_LATENCY_REQUESTS, len(run.requests)))
        with _Sampler(pids) as sampler:
            for i in range(count):
                body = run.requests[i % len(run.requests)]
                started = time.perf_counter()
                try:
                    client.score(body)
                except ModelportError as exc:
                    failures += 1
                    first_error[:] = first_error or [exc.message[:500]]
                latencies.append((time.perf_counter() - started) * 1e3)
            say(
                f"latency: {count} sequential requests; throughput: {CONCURRENCY} clients for "
                f"{THROUGHPUT_SECONDS:.0f} s"
            )
            done = [0] * CONCURRENCY
            failed = [0] * CONCURRENCY
            deadline = time.monotonic() + THROUGHPUT_SECONDS

            def load(k: int) -> None:
                own = engine.client(ws, record)
                i = k
                while time.monotonic() < deadline:
                    try:
                        own.score(run.requests[i % len(run.requests)])
                    except ModelportError:
                        failed[k] += 1
                    done[k] += 1
                    i += CONCURRENCY
                own.close()

            cpu_before = _cpu_seconds(pids())
            started = time.perf_counter()
            threads = [threading.Thread(target=load, args=(k,)) for k in range(CONCURRENCY)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - started
            cpu_used = (_cpu_seconds(pids()) - cpu_before) / wall
        client.close()
    finally:
        engine.delete(ws, service, missing_ok=True)
    total = count + sum(done)
    success = total - failures - sum(failed)
    peak_gb = sampler.peak_bytes / 2**30
    details = {
        "name": run.name,
        "description": run.description,
        "createdTime": created,
        "state": "Succeeded" if success == total else "Failed",
        "error": first_error[0] if first_error else None,
        "models": list(run.spec.models),
        "requestedCpu": run.spec.settings.cpu_cores,
        "requestedMemoryInGB": run.spec.settings.memory_gb,
        "totalQueries": total,
        "successQueries": success,
        "successRate": round(success / total, 4) if total else 0.0,
        "averageLatencyInMs": round(statistics.fmean(latencies), 3),
        "latencyPercentile50InMs": round(_percentile(latencies, 50), 3),
        "latencyPercentile90InMs": round(_percentile(latencies, 90), 3),
        "latencyPercentile95InMs": round(_percentile(latencies, 95), 3),
        "latencyPercentile99InMs": round(_percentile(latencies, 99), 3),
        "measuredQueriesPerSecond": round(sum(done) / wall, 2),
        "maxUtilizedCpu": round(cpu_used, 3),
        "maxUtilizedMemoryInGB": round(peak_gb, 4),
        "recommendedCpu": _round_up(cpu_used * HEADROOM),
        "recommendedMemoryInGB": _round_up(peak_gb * HEADROOM),
    }
    folder = ws.path / "profiles"
    folder.mkdir(exist_ok=True)
    (folder / f"{run.name}.json").write_text(json.dumps(details, indent=2))
    say(
        f"done: p50 {details['latencyPercentile50InMs']} ms, p99 {details['latencyPercentile99InMs']} ms, "
        f"{details['measuredQueriesPerSecond']} req/s, peak memory {peak_gb:.3f} GB"
    )
    return details


def load_profile(ws: Workspace, name: str) -> dict[str, Any]:
    path = ws.path / "profiles" / f"{name}.json"
    if not path.is_file():
        raise NotFoundError(f"profile '{name}' not found")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def check_profile_name(name: object) -> str:
    ok = isinstance(name, str) and 0 < len(name) <= 64 and all(c.isalnum() or c in "-_." for c in name)
    if not ok:
        raise InvalidInputError(
            f"invalid profile name {name!r}: letters, digits, '-', '_' and '.', at most 64"
        )
    return str(name)
