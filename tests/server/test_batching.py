"""Adaptive batching: concurrent array requests share one run() call and get their own rows back."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import requests


# -- real server ------------------------------------------------------------------------------------
def _concurrently(url: str, bodies: list[Any]) -> list[requests.Response]:
    def one(rows: Any) -> requests.Response:
        return requests.post(f"{url}/score", json={"data": rows}, timeout=30)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


@pytest.mark.process
def test_concurrent_requests_are_batched_and_get_their_own_rows(start_server) -> None:
    server = start_server("array_rows.py", "--max-batch-size", "64", "--max-batch-latency-ms", "20")
    bodies = [[[i, i, i]] * (1 + i % 3) for i in range(48)]
    replies = _concurrently(server.url, bodies)
    batch_sizes = []
    for i, reply in enumerate(replies):
        assert reply.status_code == 200, reply.text
        got = reply.json()
        assert [row[0] for row in got] == [3.0 * i] * (1 + i % 3)
        batch_sizes.append(got[0][1])
    assert max(batch_sizes) > 3  # some run() call took rows of several requests
    assert max(batch_sizes) <= 64


@pytest.mark.process
def test_a_bad_request_in_a_batch_fails_alone(start_server) -> None:
    server = start_server("array_rows.py", "--max-batch-size", "32", "--max-batch-latency-ms", "20")
    bodies: list[Any] = [[[i, i, i]] for i in range(16)]
    bodies[5] = [[-1, -1, -1]]
    bodies[9] = [[1, 2]]
    replies = _concurrently(server.url, bodies)
    for i, reply in enumerate(replies):
        if i == 5:
            assert reply.status_code == 500 and "negative values" in reply.json()["message"]
        elif i == 9:
            assert reply.status_code == 400 and "dimension 1 is 2" in reply.json()["message"]
        else:
            assert reply.status_code == 200, reply.text
            assert reply.json()[0][0] == 3.0 * i


@pytest.mark.process
def test_batching_a_plain_script_stops_the_server_with_a_clear_error(start_server) -> None:
    server = start_server("plain_echo.py", "--max-batch-size", "8", wait=False)
    assert server.proc.wait(timeout=60) == 3
    output = server.output()
    assert "max_batch_size is set" in output and "array_input" in output


def test_numpy_result_of_batch(make_app) -> None:
    app = make_app("array_rows.py", max_batch_size=8)
    r = app.client.post("/score", content=np.ones((1, 3)).tobytes(), headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = app.client.post("/score", json={"data": [[1, 2, 3]]})
    assert r.json() == [[6.0, 1]]


def test_run_thread_keeps_no_reference_to_the_last_job() -> None:
    """A finished request (its body: 61 MB for the tutorial's 10k rows) is freed at once."""
    import asyncio
    import gc
    import time
    import weakref

    from modelport.server.runthread import RunThreads

    class Body:
        pass

    threads = RunThreads(1)

    async def main() -> weakref.ref[Body]:
        threads.start()
        box = [Body()]
        job = threads.submit(lambda: box[0] and "done", payload=box[0])
        assert await job.future == "done"
        ref = weakref.ref(box[0])
        box.clear()
        del job
        return ref

    ref = asyncio.run(main())
    try:
        deadline = time.monotonic() + 30  # the thread is now waiting for its next job
        while ref() is not None and time.monotonic() < deadline:
            gc.collect()
            time.sleep(0.01)
        assert ref() is None
    finally:
        threads.stop()


@pytest.mark.process
def test_concurrent_v2_single_row_requests_share_run_calls(start_server) -> None:
    """V2 requests take the same batching path as /score: single-row JSON and binary requests
    sent at once are scored by fewer run() calls than requests, each getting its own row back."""
    server = start_server("array_rows.py", "--max-batch-size", "64", "--max-batch-latency-ms", "20")
    url = f"{server.url}/v2/models/modelport/infer"

    def one(i: int) -> requests.Response:
        row = [float(i)] * 3
        if i % 2:  # half of them with the binary tensor extension
            header = {
                "id": str(i),
                "inputs": [
                    {
                        "name": "data",
                        "shape": [1, 3],
                        "datatype": "FP64",
                        "parameters": {"binary_data_size": 24},
                    }
                ],
            }
            head = json.dumps(header).encode()
            headers = {"Inference-Header-Content-Length": str(len(head))}
            return requests.post(url, data=head + np.asarray(row).tobytes(), headers=headers, timeout=30)
        tensor = {"name": "data", "shape": [1, 3], "datatype": "FP64", "data": row}
        return requests.post(url, json={"id": str(i), "inputs": [tensor]}, timeout=30)

    with ThreadPoolExecutor(48) as pool:
        replies = list(pool.map(one, range(48)))
    batch_sizes = []
    for i, reply in enumerate(replies):
        assert reply.status_code == 200, reply.text
        doc = reply.json()
        assert doc["id"] == str(i)
        output = doc["outputs"][0]
        assert output["shape"] == [1, 2]
        total, rows_in_call = output["data"]
        assert total == 3.0 * i
        batch_sizes.append(rows_in_call)
    assert max(batch_sizes) > 3  # some run() call took the rows of several V2 requests
    assert max(batch_sizes) <= 64
