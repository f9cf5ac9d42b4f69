"""Adaptive batching in process: one run() call for several requests, each getting its own rows."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError, ScriptError
from modelport.protocols import score_batch
from modelport.protocols.v1 import V1Codec
from modelport.runtime import ScoringRequest, ScoringScript
from modelport.runtime.script import Scored
from tests.fixtures import load, script


def batch(loaded: ScoringScript, requests: list[ScoringRequest], max_rows: int | None = None) -> list[Any]:
    """Score ``requests`` together through the v1 codec, as the run thread does."""
    codec = V1Codec()
    return score_batch(loaded, [(codec, r) for r in requests], max_rows)


def post(rows: Any, content_type: str = "application/json") -> ScoringRequest:
    body = rows if isinstance(rows, bytes) else json.dumps({"data": rows}).encode()
    return ScoringRequest("POST", "/score", raw_headers=[(b"content-type", content_type.encode())], body=body)


def answer(outcome: Scored | Exception) -> Any:
    assert isinstance(outcome, Scored), outcome
    return json.loads(outcome.response.body)


# -- score_batch: v1 decoding, ScoringScript.run_batch, v1 encoding ------------------------------
def test_batch_is_one_run_call_split_back_by_rows() -> None:
    rows = load(script("array_rows.py"))
    assert rows.batchable
    outcomes = batch(rows, [post([[1, 1, 1]]), post([[2, 2, 2], [3, 3, 3]]), post([[4, 4, 4]])])
    assert [answer(o) for o in outcomes] == [[[3.0, 4]], [[6.0, 4], [9.0, 4]], [[12.0, 4]]]


def test_a_bad_body_fails_alone_and_a_failing_batch_is_retried_one_by_one() -> None:
    rows = load(script("array_rows.py"))
    outcomes = batch(
        rows,
        [post([[1, 1, 1]]), post([[1, 2]]), post([[-1, 0, 0]]), post([[2, 2, 2]]), post(b"{", "text/plain")],
    )
    assert answer(outcomes[0]) == [[3.0, 1]]  # run() alone after the batch failed
    assert isinstance(outcomes[1], InvalidInputError) and "dimension 1 is 2" in str(outcomes[1])
    assert isinstance(outcomes[2], ScriptError) and "negative values" in outcomes[2].exc_message
    assert answer(outcomes[3]) == [[6.0, 1]]
    assert outcomes[4].http_status == 415  # type: ignore[union-attr]


def test_max_rows_caps_each_run_call() -> None:
    rows = load(script("array_rows.py"))
    outcomes = batch(rows, [post([[1, 1, 1]] * 2), post([[2, 2, 2]] * 2), post([[3, 3, 3]] * 5)], max_rows=4)
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
    outcomes = batch(total, [post([[1, 1]]), post([[2, 2], [3, 3]])])
    assert [answer(o) for o in outcomes] == [{"total": 2.0, "rows": 1}, {"total": 10.0, "rows": 2}]
    assert total._unsplittable == "dict"


def test_ndarray_results_are_split_too(tmp_path: Path) -> None:
    path = tmp_path / "double.py"
    code = "from modelport.runtime import array_input\n\n@array_input(shape=(None, 2))\ndef run(d):\n"
    path.write_text(code + "    return d * 2\n")
    outcomes = batch(load(path), [post([[1, 2]]), post([[3, 4], [5, 6]])])
    assert [answer(o) for o in outcomes] == [[[2.0, 4.0]], [[6.0, 8.0], [10.0, 12.0]]]


def test_only_single_array_scripts_are_batchable() -> None:
    assert not load(script("numpy_schema.py")).batchable  # it also takes 'scale'
    assert not load(script("array_dtype.py")).batchable  # it wants the request headers
    assert not load(script("plain_echo.py")).batchable


def test_v2_requests_batch_through_the_same_path() -> None:
    from modelport.protocols.v2 import InferCodec

    rows = load(script("array_rows.py"))

    def v2(i: int, n: int = 1) -> tuple[InferCodec, ScoringRequest]:
        tensor = {"name": "data", "shape": [n, 3], "datatype": "FP64", "data": [float(i)] * 3 * n}
        body = json.dumps({"id": f"r{i}", "inputs": [tensor]}).encode()
        headers = [(b"content-type", b"application/json")]
        return InferCodec("m", "1"), ScoringRequest(
            "POST", "/v2/models/m/infer", raw_headers=headers, body=body
        )

    items = [v2(1), v2(2, 2), (V1Codec(), post([[3, 3, 3]])), v2(4)]
    outcomes = score_batch(rows, items)  # type: ignore[list-item]
    docs = [answer(o) for o in outcomes]
    assert [d["id"] for d in docs[:2]] == ["r1", "r2"] and docs[3]["id"] == "r4"
    assert docs[0]["outputs"][0]["data"] == [3.0, 5]  # one run() call for all five rows
    assert docs[1]["outputs"][0] == {
        "name": "output-0",
        "datatype": "FP64",
        "shape": [2, 2],
        "data": [6.0, 5] * 2,
    }
    assert docs[2] == [[9.0, 5]]  # a v1 request in the same batch gets v1's answer
    assert docs[3]["outputs"][0]["data"] == [12.0, 5]
