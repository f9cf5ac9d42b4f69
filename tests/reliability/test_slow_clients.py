"""Slow and stalled clients are cut off by the server's read timeout, and never hold up others.

uvicorn (and gunicorn's worker around it) has no timeout for a request's headers or body: a
client sending one byte per second held its connection for as long as it liked. The server's
``read_timeout_s`` bounds both; here it is 2 s so the test is short (the default is 30 s).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from modelport.server.config import ServerConfig

from .conftest import split_response

pytestmark = pytest.mark.process

READ_TIMEOUT_S = 2
BYTE_EVERY_S = 1.0
GIVE_UP_S = 15.0  # a connection still open after this long was not cut off


def _trickle(port: int, head: bytes, trickled: bytes) -> dict[str, Any]:
    """Send ``head`` at once, then ``trickled`` one byte per second; what came back, and when."""
    started = time.monotonic()
    sent = 0
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=GIVE_UP_S) as sock:
        sock.settimeout(BYTE_EVERY_S)
        if head:
            sock.sendall(head)
        while time.monotonic() - started < GIVE_UP_S:
            if sent < len(trickled):
                try:
                    sock.sendall(trickled[sent : sent + 1])
                    sent += 1
                except OSError:  # the server closed the connection
                    pass
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            received += chunk
    return {"seconds": time.monotonic() - started, "bytes_sent": sent, "received": received}


def test_default_read_timeout_is_30_s() -> None:
    assert ServerConfig(entry_script=Path("score.py")).read_timeout_s == 30


def test_slow_body_slow_headers_and_idle_connections_are_cut_off(
    start_server, figures: dict[str, Any]
) -> None:
    server = start_server("plain_echo.py", "--read-timeout-s", str(READ_TIMEOUT_S))
    port = int(server.url.rsplit(":", 1)[1])
    body = json.dumps({"slow": "x" * 60}).encode()
    cases = {
        # Headers complete, Content-Length promised, the body one byte per second.
        "slow_body": (
            f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode(),
            body,
        ),
        # The same with a chunked body (no Content-Length to check up front).
        "slow_chunked_body": (
            b"POST /score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n",
        ),
        # The request line and headers one byte per second (slowloris).
        "slow_headers": (b"", b"POST /score HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 60 + b"\r\n\r\n"),
        # A connection that never sends anything.
        "idle": (b"", b""),
    }
    ok_latencies: list[float] = []
    with ThreadPoolExecutor(len(cases) * 5 + 1) as pool:
        # Five of each at once, while normal requests keep being served next to them.
        futures = {
            name: [pool.submit(_trickle, port, *case) for _ in range(5)] for name, case in cases.items()
        }
        stop = threading.Event()

        def normal() -> None:
            while not stop.is_set():
                started = time.monotonic()
                r = requests.post(f"{server.url}/score", data=b'{"a": 1}', timeout=10)
                assert r.status_code == 200
                ok_latencies.append(time.monotonic() - started)
                time.sleep(0.05)

        normal_future = pool.submit(normal)
        results = {name: [f.result(timeout=GIVE_UP_S + 10) for f in fs] for name, fs in futures.items()}
        stop.set()
        normal_future.result(timeout=20)

    figures["slow_clients"] = {
        "read_timeout_s": READ_TIMEOUT_S,
        "connections": sum(len(r) for r in results.values()),
        "cut_off_after_s": {name: round(max(r["seconds"] for r in rs), 2) for name, rs in results.items()},
        "normal_requests_meanwhile": len(ok_latencies),
        "normal_slowest_ms": round(1e3 * max(ok_latencies), 1),
    }
    print(figures["slow_clients"])
    for name, rs in results.items():
        for r in rs:
            # Cut off by the server: closed well before the client gave up, and before it finished.
            assert r["seconds"] < READ_TIMEOUT_S + 3, (name, r)
            if name != "idle":
                assert r["bytes_sent"] < len(cases[name][1]), (name, r)
            if r["received"]:
                # Whatever was answered is a 408 with a JSON body, and the connection closed.
                status, headers, _, answer = split_response(r["received"])
                assert status == 408, (name, r["received"][:300])
                assert headers.get("connection") == "close"
                assert "read_timeout_s" in json.loads(answer)["message"]
            else:
                assert name == "idle", (name, r)  # nothing was asked: closed without an answer
    for name in ("slow_body", "slow_chunked_body", "slow_headers"):
        assert all(r["received"] for r in results[name]), name
    # Meanwhile the worker kept serving everyone else at once.
    assert len(ok_latencies) >= 10 and max(ok_latencies) < 1.0
    assert "408" in server.log()
