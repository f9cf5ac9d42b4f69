"""Single-row load at a fixed concurrency for a fixed time: wrk (Debian's) if present, else Python.

wrk runs with one thread (the machine has two cores and the server needs them more than the
client), ``-c`` connections kept alive where the server allows it, a 10 s request timeout, and a
Lua script (``wrk_post.lua``) that posts the same body each time and prints its summary as JSON.
Without wrk, ``bench.aioload`` does the same with asyncio in this process.

Throughput counts successful (2xx) replies only; every other outcome is an error, by kind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import aioload
from bench.client import HOST

LUA = Path(__file__).resolve().parent / "wrk_post.lua"
REQUEST_TIMEOUT_S = 10


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    ok: int
    errors: dict[str, int]
    rps: float  # successful replies per second
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    tool: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def tool_name(choice: str) -> str:
    """``wrk`` or ``python`` for ``--load-tool auto|wrk|python``."""
    if choice == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if choice == "wrk" and not shutil.which("wrk"):
        raise RuntimeError("wrk not found: apt-get install wrk, or use --load-tool python")
    return choice


def _wrk(
    port: int,
    path: str,
    body: bytes,
    concurrency: int,
    seconds: int,
    content_type: str,
    headers: dict[str, str],
) -> LoadResult:
    with tempfile.NamedTemporaryFile(prefix="bench-body-", suffix=".json") as f:
        f.write(body)
        f.flush()
        cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", f"--timeout={REQUEST_TIMEOUT_S}s"]
        cmd += ["-s", str(LUA), f"http://{HOST}:{port}{path}"]
        env = {**os.environ, "BENCH_BODY_FILE": f.name, "BENCH_CONTENT_TYPE": content_type}
        env["BENCH_HEADERS"] = "".join(f"{k}: {v}\n" for k, v in headers.items())
        out = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=seconds + 3 * REQUEST_TIMEOUT_S, check=True
        )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out.stdout[-500:]} {out.stderr[-500:]}")
    s = json.loads(line.removeprefix("BENCH_JSON "))
    errors = {k: int(s[k]) for k in ("connect", "read", "write", "status", "timeout")}
    ok = int(s["completed"]) - errors["status"]
    elapsed = s["duration_us"] / 1e6
    return LoadResult(
        concurrency, elapsed, ok, errors, ok / elapsed,
        s["p50_us"] / 1e3, s["p99_us"] / 1e3, s["mean_us"] / 1e3, s["max_us"] / 1e3, "wrk",
    )  # fmt: skip


def run_level(
    tool: str,
    port: int,
    path: str,
    body: bytes,
    concurrency: int,
    seconds: int,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """One load level: ``concurrency`` connections posting ``body`` (with ``headers``) for ``seconds``."""
    if tool == "wrk":
        return _wrk(port, path, body, concurrency, seconds, content_type, headers or {})
    r = aioload.run(
        port, path, body, concurrency, seconds, REQUEST_TIMEOUT_S, content_type=content_type, headers=headers
    )
    return LoadResult(
        concurrency, r.seconds, r.ok, r.errors, r.ok / r.seconds,
        r.p50_ms, r.p99_ms, r.mean_ms, r.max_ms, "python",
    )  # fmt: skip
