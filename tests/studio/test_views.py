"""In process: the Test tab's prefill from a swagger document, and the Consume tab's snippets."""

from __future__ import annotations

import ast
import json
import shlex

from modelport.protocols import swagger
from modelport.studio.snippets import snippets
from modelport.studio.views import example_input


def test_prefill_from_an_inference_schema_example_brings_the_canvas_for_784_inputs() -> None:
    doc = {"definitions": {"ServiceInput": {"type": "object", "example": {"data": [[0.0] * 784]}}}}
    assert example_input(doc) == {
        "example": {"data": [[0.0] * 784]},
        "declared": True,
        "source": "schema",
        "canvas": True,
    }
    v3 = {"components": {"schemas": {"ServiceInput": {"example": {"data": [[1, 2, 3]]}}}}}
    found = example_input(v3)
    assert found["example"] == {"data": [[1, 2, 3]]} and found["declared"] and not found["canvas"]


def test_prefill_from_a_declared_array_input_is_zeros_of_its_shape() -> None:
    array = {"name": "data", "dtype": "float32", "shape": [None, 784]}
    doc = swagger.build(None, "2.0", "svc", auth=False, array=array)  # the server's own document
    found = example_input(doc)
    assert found["declared"] and found["canvas"] and found["source"] == "array"
    assert found["example"] == {"data": [[0] * 784]}


def test_no_declared_input_means_no_prefill_and_no_canvas() -> None:
    doc = swagger.build(None, "2.0", "svc", auth=True)
    assert example_input(doc) == {"example": None, "declared": False, "source": None, "canvas": False}
    assert example_input(None)["example"] is None


def test_a_sample_input_given_at_deployment_is_the_prefill_of_a_plain_run() -> None:
    sample = {"data": [[0.25] * 784]}
    for version in ("2.0", "3.0"):
        doc = swagger.build(None, version, "svc", auth=False, sample=sample)  # the server's own document
        assert example_input(doc) == {"example": sample, "declared": True, "source": "sample", "canvas": True}


def test_snippets_quote_what_they_carry() -> None:
    hostile = "k'ey\"$(touch /tmp/x)`"
    example = {"data": [[0.5, 1]], "note": "it's"}
    made = snippets("svc", "ws", "http://127.0.0.1:5001/score", hostile, example)
    args = shlex.split(made["curl"])
    assert args[:4] == ["curl", "-sS", "-X", "POST"] and args[4] == "http://127.0.0.1:5001/score"
    assert f"Authorization: Bearer {hostile}" in args and json.loads(args[-1]) == example
    ast.parse(made["python"])
    ast.parse(made["sdk"])
    assert repr(hostile) in made["python"] and "Webservice(ws, 'svc')" in made["sdk"]
    open_service = snippets("svc", "ws", "http://127.0.0.1:5001/score", None, example)
    assert "Authorization" not in open_service["curl"] and "Authorization" not in open_service["python"]
