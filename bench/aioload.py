"""A small asyncio HTTP/1.1 load client (used when wrk is not installed).

Each of ``concurrency`` connections posts the same body in a loop, keeping the connection alive
unless the server closes it, until the time is up. Latency is measured per request, from the write
to the last byte of the reply. Replies are framed by Content-Length, chunked encoding, or close.
Given an ``outcomes`` list, every request is also recorded as the client saw it (:class:`Outcome`),
for tests that must say what each failure looked like.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np

from bench.client import HOST

ERROR_KINDS = ("connect", "read", "status", "timeout")


@dataclass
class Outcome:
    """One request as the client saw it (``time.perf_counter()`` seconds). ``status`` 0: no reply
    (``error`` says why: ``timeout``, or the exception, e.g. ``ConnectionResetError``); for a reply
    other than 2xx, ``body`` and ``content_type`` hold what came back. ``opened``: when the
    connection that carried the request was opened."""

    opened: float
    sent: float
    done: float
    status: int
    error: str = ""
    body: bytes = b""
    content_type: str = ""


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    outcomes: list[Outcome] | None = None
    statuses: dict[int, int] = field(default_factory=dict)  # the non-2xx answers, by status


@dataclass
class AioResult:
    seconds: float
    ok: int
    errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    statuses: dict[int, int] = field(default_factory=dict)
    """The non-2xx answers by status (their total is ``errors["status"]``)."""


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, bool, bytes, str]:
    """Read one reply; its status, whether the connection may be reused, its body and content type."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    version, status = head[0].split(" ", 2)[:2]
    headers = {}
    for line in head[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip().lower()
    keep = version == "HTTP/1.1" and headers.get("connection") != "close"
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body += (await reader.readexactly(size + 2))[:-2]
            if size == 0:
                break
    else:
        body = await reader.read()
        keep = False
    return int(status), keep, body, headers.get("content-type", "")


async def _connection(port: int, request: bytes, deadline: float, timeout: float, tally: Tally) -> None:
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    opened = 0.0
    while time.perf_counter() < deadline:
        if writer is None:
            try:
                opened = time.perf_counter()
                reader, writer = await asyncio.open_connection(HOST, port)
            except OSError:
                tally.errors["connect"] += 1
                await asyncio.sleep(0.01)
                continue
        assert reader is not None
        start = time.perf_counter()
        status, body, content_type, error = 0, b"", "", ""
        try:
            writer.write(request)
            status, keep, body, content_type = await asyncio.wait_for(_read_reply(reader), timeout)
        except TimeoutError:
            tally.errors["timeout"] += 1
            keep, error = False, "timeout"
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            tally.errors["read"] += 1
            keep, error = False, type(exc).__name__
        else:
            tally.latencies.append(time.perf_counter() - start)
            if 200 <= status < 300:
                tally.ok += 1
                body = b""
            else:
                tally.errors["status"] += 1
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
        if tally.outcomes is not None:
            done = time.perf_counter()
            tally.outcomes.append(Outcome(opened, start, done, status, error, body, content_type))
        if not keep:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _run(
    port: int,
    request: bytes,
    concurrency: int,
    seconds: float,
    timeout: float,
    outcomes: list[Outcome] | None = None,
) -> AioResult:
    tally = Tally(outcomes=outcomes)
    start = time.perf_counter()
    deadline = start + seconds
    tasks = [_connection(port, request, deadline, timeout, tally) for _ in range(concurrency)]
    await asyncio.wait_for(asyncio.gather(*tasks), seconds + 2 * timeout)
    elapsed = time.perf_counter() - start
    ms = np.asarray(tally.latencies or [float("nan")]) * 1e3
    p50, p99 = np.percentile(ms, [50, 99])
    mean, worst = float(ms.mean()), float(ms.max())
    return AioResult(elapsed, tally.ok, tally.errors, float(p50), float(p99), mean, worst, tally.statuses)


def run(
    port: int,
    path: str,
    body: bytes,
    concurrency: int,
    seconds: float,
    timeout: float,
    outcomes: list[Outcome] | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> AioResult:
    """Post ``body`` to ``path`` on ``concurrency`` connections for ``seconds``; with ``outcomes``,
    append every request's :class:`Outcome` to it (safe to read from another thread meanwhile)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: {content_type}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return asyncio.run(_run(port, head.encode() + body, concurrency, seconds, timeout, outcomes))
