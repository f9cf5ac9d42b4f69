"""One HTTP request at a time to 127.0.0.1, timed from the first byte sent to the last byte read."""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass

HOST = "127.0.0.1"  # the only address the bench ever sends to


@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float


def post(
    port: int,
    path: str,
    body: bytes,
    timeout: float,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Reply:
    """POST ``body`` on a fresh connection; the status, the whole body and the elapsed time."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        start = time.perf_counter()
        conn.request("POST", path, body=body, headers={"Content-Type": content_type, **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, data, time.perf_counter() - start)
    finally:
        conn.close()
