"""Adaptive batching: concurrent array requests share one run() call and get their own rows back."""

from __future__ import annotations

import json
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from modelport.errors import InvalidInputError, ScriptError
from modelport.runtime import ScoringRequest, ScoringScript, ScriptLocation
from modelport.runtime.script import Scored

from .conftest import script


def load(path: Path) -> ScoringScript:
    loaded = ScoringScript.load(ScriptLocation(path, None, path.parent, None))
    loaded.init()
    return loaded


def post(rows: Any, content_type: str = "application/json") -> ScoringRequest:
    body = rows if isinstance(rows, bytes) else json.dumps({"data": rows}).encode()
    return ScoringRequest("POST", "/score", raw_headers=[(b"content-type", content_type.encode())], body=body)


def answer(outcome: Scored | Exception) -> Any:
    assert isinstance(outcome, Scored), outcome
    return json.loads(outcome.response.body)


# -- in process: ScoringScript.score_batch ---------------------------------------------------------
def test_batch_is_one_run_call_split_back_by_rows() -> None:
    rows = load(script("array_rows.py"))
    assert rows.batchable
    outcomes = rows.score_batch([post([[1, 1, 1]]), post([[2, 2, 2], [3, 3, 3]]), post([[4, 4, 4]])])
    assert [answer(o) for o in outcomes] == [[[3.0, 4]], [[6.0, 4], [9.0, 4]], [[12.0, 4]]]


def test_a_bad_body_fails_alone_and_a_failing_batch_is_retried_one_by_one() -> None:
    rows = load(script("array_rows.py"))
    outcomes = rows.score_batch(
        [post([[1, 1, 1]]), post([[1, 2]]), post([[-1, 0, 0]]), post([[2, 2, 2]]), post(b"{", "text/plain")]
    )
    assert answer(outcomes[0]) == [[3.0, 1]]  # run() alone after the batch failed
    assert isinstance(outcomes[1], InvalidInputError) and "dimension 1 is 2" in str(outcomes[1])
    assert isinstance(outcomes[2], ScriptError) and "negative values" in outcomes[2].exc_message
    assert answer(outcomes[3]) == [[6.0, 1]]
    assert outcomes[4].http_status == 415  # type: ignore[union-attr]


def test_max_rows_caps_each_run_call() -> None:
    rows = load(script("array_rows.py"))
    outcomes = rows.score_batch(
        [post([[1, 1, 1]] * 2), post([[2, 2, 2]] * 2), post([[3, 3, 3]] * 5)], max_rows=4
    )
    assert [answer(o)[0][1] for o in outcomes] == [4, 4, 5]  # the 5-row request runs alone


def test_unsplittable_results_fall_back_to_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "total.py"
    path.write_text(
        textwrap.dedent(
            """
            from modelport.runtime import array_input

            @array_input(shape=(None, 2))
            def run(data):
                return {"total": float(data.sum()), "rows": len(data)}
            """
        )
    )
    total = load(path)
    outcomes = total.score_batch([post([[1, 1]]), post([[2, 2], [3, 3]])])
    assert [answer(o) for o in outcomes] == [{"total": 2.0, "rows": 1}, {"total": 10.0, "rows": 2}]
    assert total._unsplittable == "dict"


def test_ndarray_results_are_split_too(tmp_path: Path) -> None:
    path = tmp_path / "double.py"
    code = "from modelport.runtime import array_input\n\n@array_input(shape=(None, 2))\ndef run(d):\n"
    path.write_text(code + "    return d * 2\n")
    outcomes = load(path).score_batch([post([[1, 2]]), post([[3, 4], [5, 6]])])
    assert [answer(o) for o in outcomes] == [[[2.0, 4.0]], [[6.0, 8.0], [10.0, 12.0]]]


def test_only_single_array_scripts_are_batchable() -> None:
    assert not load(script("numpy_schema.py")).batchable  # it also takes 'scale'
    assert not load(script("array_dtype.py")).batchable  # it wants the request headers
    assert not load(script("plain_echo.py")).batchable


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
        deadline = time.monotonic() + 5  # the thread is now waiting for its next job
        while ref() is not None and time.monotonic() < deadline:
            gc.collect()
            time.sleep(0.01)
        assert ref() is None
    finally:
        threads.stop()
