"""A small asyncio HTTP/1.1 load client (used when wrk is not installed).

Each of ``concurrency`` connections posts the same body in a loop, keeping the connection alive
unless the server closes it, until the time is up. Latency is measured per request, from the write
to the last byte of the reply. Replies are framed by Content-Length, chunked encoding, or close.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np

from bench.client import HOST

ERROR_KINDS = ("connect", "read", "status", "timeout")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))


@dataclass
class AioResult:
    seconds: float
    ok: int
    errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one reply; its status and whether the connection may be reused."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    version, status = head[0].split(" ", 2)[:2]
    headers = {}
    for line in head[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip().lower()
    keep = version == "HTTP/1.1" and headers.get("connection") != "close"
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.read()
        keep = False
    return int(status), keep


async def _connection(port: int, request: bytes, deadline: float, timeout: float, tally: Tally) -> None:
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    while time.perf_counter() < deadline:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
            except OSError:
                tally.errors["connect"] += 1
                await asyncio.sleep(0.01)
                continue
        assert reader is not None
        start = time.perf_counter()
        try:
            writer.write(request)
            status, keep = await asyncio.wait_for(_read_reply(reader), timeout)
        except TimeoutError:
            tally.errors["timeout"] += 1
            keep = False
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            tally.errors["read"] += 1
            keep = False
        else:
            tally.latencies.append(time.perf_counter() - start)
            if 200 <= status < 300:
                tally.ok += 1
            else:
                tally.errors["status"] += 1
        if not keep:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _run(port: int, request: bytes, concurrency: int, seconds: float, timeout: float) -> AioResult:
    tally = Tally()
    start = time.perf_counter()
    deadline = start + seconds
    tasks = [_connection(port, request, deadline, timeout, tally) for _ in range(concurrency)]
    await asyncio.wait_for(asyncio.gather(*tasks), seconds + 2 * timeout)
    elapsed = time.perf_counter() - start
    ms = np.asarray(tally.latencies or [float("nan")]) * 1e3
    p50, p99 = np.percentile(ms, [50, 99])
    mean, worst = float(ms.mean()), float(ms.max())
    return AioResult(elapsed, tally.ok, tally.errors, float(p50), float(p99), mean, worst)


def run(port: int, path: str, body: bytes, concurrency: int, seconds: float, timeout: float) -> AioResult:
    """Post ``body`` to ``path`` on ``concurrency`` connections for ``seconds``."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return asyncio.run(_run(port, head.encode() + body, concurrency, seconds, timeout))
