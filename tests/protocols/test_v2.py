"""The Open Inference (V2) protocol in process: routes, tensors to run(), outputs, binary data, errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openapi_spec_validator import validate

from modelport.protocols.tensors import DTYPES

SCRIPTS = Path(__file__).resolve().parent / "v2_scripts"
TUTORIAL = Path(__file__).resolve().parents[2] / "examples" / "mnist" / "score.py"
HEADER = "Inference-Header-Content-Length"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``app("array_sum.py", service_name=..., models=[...])``: a started in-process app's client."""
    from starlette.testclient import TestClient

    from modelport.server.app import create_app
    from modelport.server.config import ServerConfig

    clients: list[Any] = []

    def build(script: str | Path, **settings: Any) -> Any:
        path = script if isinstance(script, Path) else SCRIPTS / script
        config = ServerConfig.from_mapping({"entry_script": str(path), **settings})
        exits: list[str] = []
        scoring = create_app(config, on_exit=lambda code, reason: exits.append(reason))
        client = TestClient(scoring)
        client.__enter__()
        clients.append(client)
        deadline = time.monotonic() + 60
        while not scoring.service.ready:
            assert time.monotonic() < deadline and not exits, f"init() did not finish: {exits}"
            time.sleep(0.02)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    """The tutorial's model shape on sklearn's 8x8 digits: (model dir, model, test images)."""
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    data = load_digits()
    x, y = data.data / 16.0, data.target
    model = LogisticRegression(max_iter=500).fit(x[:1500], y[:1500])
    folder = tmp_path_factory.mktemp("model")
    joblib.dump(model, folder / "sklearn_mnist_model.pkl")
    return folder, model, x[1500:]


def tensor(name: str, array: Any, datatype: str = "FP64") -> dict[str, Any]:
    array = np.asarray(array)
    return {
        "name": name,
        "shape": list(array.shape),
        "datatype": datatype,
        "data": array.reshape(-1).tolist(),
    }


def binary_body(inputs: list[tuple[str, np.ndarray, str]], **extra: Any) -> tuple[bytes, dict[str, str]]:
    header = {
        "inputs": [
            {"name": n, "shape": list(a.shape), "datatype": d, "parameters": {"binary_data_size": a.nbytes}}
            for n, a, d in inputs
        ],
        **extra,
    }
    head = json.dumps(header).encode()
    return head + b"".join(a.tobytes() for _, a, _ in inputs), {HEADER: str(len(head))}


def read_binary_response(content: bytes, header_length: int) -> dict[str, np.ndarray]:
    doc = json.loads(content[:header_length])
    out, at = {}, header_length
    for o in doc["outputs"]:
        size = o["parameters"]["binary_data_size"]
        out[o["name"]] = np.frombuffer(content[at : at + size], dtype=DTYPES[o["datatype"]]).reshape(
            o["shape"]
        )
        at += size
    assert at == len(content)
    return out


# -- routes -----------------------------------------------------------------------------------------
def test_health_metadata_and_model_names(app: Callable[..., Any]) -> None:
    client = app("array_sum.py", service_name="svc", models=[{"name": "mnist", "version": 3}])
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    server = client.get("/v2").json()
    assert server["name"] == "svc" and server["extensions"] == ["binary_tensor_data"]
    meta = client.get("/v2/models/mnist").json()
    assert meta["name"] == "mnist" and meta["versions"] == ["3"]
    assert meta["inputs"] == [{"name": "data", "datatype": "FP64", "shape": [-1, 3]}]
    assert (
        client.get("/v2/models/svc/versions/3").status_code == 200
    )  # the service's name: its model's version
    assert client.get("/v2/models/mnist/versions/3/ready").json() == {"name": "mnist", "ready": True}
    body = {"inputs": [tensor("data", [[1, 2, 3]])]}
    for path in ("/v2/models/svc/infer", "/v2/models/mnist/versions/3/infer"):
        assert client.post(path, json=body).json()["outputs"][0]["data"] == [6.0]
    for path in ("/v2/models/other", "/v2/models/mnist/versions/4", "/v2/models/other/ready"):
        r = client.get(path)
        assert r.status_code == 404 and "error" in r.json(), path
    r = client.post("/v2/models/other/infer", json=body)
    assert r.status_code == 404 and "mnist" in r.json()["error"]
    r = client.get("/v2/models/mnist/nothing")  # an unknown path under /v2: V2's error body
    assert r.status_code == 404 and "/v2/health" in r.json()["error"]
    assert client.get("/v2x").json()["code"] == "NotFoundError"  # not under /v2: v1's
    r = client.get("/v2/models/mnist/infer")  # known path, other method
    assert r.status_code == 405 and r.headers["allow"] == "POST" and r.json()["error"]


def test_serve_without_models_is_the_service_name_version_1(app: Callable[..., Any]) -> None:
    client = app("array_sum.py", service_name="solo")
    assert client.get("/v2/models/solo").json()["versions"] == ["1"]
    assert client.get("/v2/models/solo/versions/1/ready").status_code == 200


def test_tutorial_score_py_answers_an_input_named_data(
    app: Callable[..., Any], digits: tuple[Path, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir, model, images = digits
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))  # what a worker process is given
    client = app(TUTORIAL, model_dir=str(model_dir), service_name="mnist")
    rows = images[:5]
    r = client.post("/v2/models/mnist/infer", json={"id": "req-7", "inputs": [tensor("data", rows)]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["id"] == "req-7" and doc["model_name"] == "mnist" and doc["model_version"] == "1"
    output = doc["outputs"][0]
    assert output["name"] == "output-0" and output["datatype"] == "INT64" and output["shape"] == [5]
    assert output["data"] == model.predict(rows).tolist()
    # nested data, same answer
    nested = {"name": "data", "shape": [5, 64], "datatype": "FP64", "data": rows.tolist()}
    assert (
        client.post("/v2/models/mnist/infer", json={"inputs": [nested]}).json()["outputs"][0]["data"]
        == (output["data"])
    )


def test_schema_script_gets_each_input_by_name(app: Callable[..., Any]) -> None:
    client = app("schema_two.py")
    body = {"inputs": [tensor("data", [[1.0, 2.0], [3.0, 4.0]]), tensor("scale", [2.0])]}
    doc = client.post("/v2/models/modelport/infer", json=body).json()
    outputs = {o["name"]: o for o in doc["outputs"]}
    assert outputs["scaled"]["data"] == [2.0, 4.0, 6.0, 8.0] and outputs["scaled"]["shape"] == [2, 2]
    assert outputs["kind"] == {"name": "kind", "datatype": "BYTES", "shape": [1], "data": ["ndarray"]}
    names = [i["name"] for i in client.get("/v2/models/modelport").json()["inputs"]]
    assert sorted(names) == ["data", "scale"]
    r = client.post("/v2/models/modelport/infer", json={"inputs": [tensor("nope", [1.0])]})
    assert r.status_code == 400 and "'nope'" in r.json()["error"]


def test_every_datatype_in_and_exact_numpy_outputs(app: Callable[..., Any]) -> None:
    client = app("dtypes_out.py")
    inputs = [
        {"name": "b", "shape": [2], "datatype": "BOOL", "data": [True, False]},
        {"name": "i8", "shape": [1, 2], "datatype": "INT8", "data": [[-128, 127]]},
        {"name": "u64", "shape": [1], "datatype": "UINT64", "data": [18446744073709551615]},
        {"name": "f16", "shape": [2], "datatype": "FP16", "data": [0.5, 1]},
        {"name": "s", "shape": [2], "datatype": "BYTES", "data": ["x", "yé"]},
    ]
    doc = client.post("/v2/models/modelport/infer", json={"inputs": inputs}).json()
    outputs = {o["name"]: o for o in doc["outputs"]}
    for datatype, dtype in DTYPES.items():
        out = outputs[dtype.name]
        assert out["datatype"] == datatype and out["shape"] == [2, 3], out
        expected = (np.arange(6) % (2 if datatype == "BOOL" else 6)).astype(dtype)
        assert np.array_equal(np.asarray(out["data"], dtype=dtype), expected)
    assert outputs["text"]["data"] == ["a", "bé"]
    given = outputs["given"]  # a dict that is no tensor: its JSON text
    assert given["datatype"] == "BYTES"
    assert json.loads(given["data"][0]) == {
        "b": [True, False],
        "i8": [[-128, 127]],
        "u64": [18446744073709551615],
        "f16": [0.5, 1.0],
        "s": ["x", "yé"],
    }
    # the same outputs as binary data: raw little-endian bytes, exact
    r = client.post(
        "/v2/models/modelport/infer", json={"inputs": inputs[:1], "parameters": {"binary_data_output": True}}
    )
    assert r.headers["content-type"] == "application/octet-stream"
    doc = json.loads(r.content[: int(r.headers[HEADER])])
    sizes = {o["name"]: o["parameters"]["binary_data_size"] for o in doc["outputs"]}
    assert sizes["float16"] == 12 and sizes["uint64"] == 48 and sizes["bool"] == 6
    assert sizes["text"] == 4 + 1 + 4 + len("bé".encode())


def test_binary_inputs_and_requested_binary_outputs(app: Callable[..., Any]) -> None:
    client = app("array_sum.py")
    x = np.arange(12, dtype="<f4").reshape(4, 3)
    body, headers = binary_body(
        [("data", x, "FP32")], id="b1", outputs=[{"name": "sum", "parameters": {"binary_data": True}}]
    )
    r = client.post("/v2/models/modelport/infer", content=body, headers=headers)  # no Content-Type
    assert r.status_code == 200, r.text
    out = read_binary_response(r.content, int(r.headers[HEADER]))
    assert list(out) == ["sum"] and np.array_equal(out["sum"], x.astype("f8").sum(axis=1))
    assert json.loads(r.content[: int(r.headers[HEADER])])["id"] == "b1"


def test_batching_scores_v2_requests_too(app: Callable[..., Any]) -> None:
    client = app("array_sum.py", max_batch_size=8, max_batch_latency_ms=1)
    body = {"inputs": [tensor("data", [[1, 1, 1], [2, 2, 2]])]}
    assert client.post("/v2/models/modelport/infer", json=body).json()["outputs"][0]["data"] == [3.0, 6.0]
    r = client.post("/v2/models/modelport/infer", json={**body, "outputs": [{"name": "nope"}]})
    assert r.status_code == 400 and "nope" in r.json()["error"]


BAD = {
    "unknown datatype": {
        "inputs": [{"name": "data", "shape": [1, 3], "datatype": "FP128", "data": [1, 2, 3]}]
    },
    "wrong datatype for run()": {
        "inputs": [{"name": "data", "shape": [1, 3], "datatype": "BOOL", "data": [1, 0, 1]}]
    },
    "bytes for a float input": {"inputs": [tensor("data", [["a", "b", "c"]], "BYTES")]},
    "floats said to be INT64": {"inputs": [tensor("data", [[1.5, 2, 3]], "INT64")]},
    "INT8 out of range": {"inputs": [tensor("data", [[1, 2, 300]], "INT8")]},
    "shape/data mismatch": {
        "inputs": [{"name": "data", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3]}]
    },
    "declared dimension": {"inputs": [tensor("data", [[1, 2]])]},
    "unknown input name": {"inputs": [tensor("pixels", [[1, 2, 3]])]},
    "no inputs": {"inputs": []},
    "not an object": [1, 2, 3],
    "negative shape": {"inputs": [{"name": "data", "shape": [-1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
    "no data": {"inputs": [{"name": "data", "shape": [1, 3], "datatype": "FP64"}]},
    "unknown output": {"inputs": [tensor("data", [[1, 2, 3]])], "outputs": [{"name": "nope"}]},
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_json_requests_are_400_with_an_error(app: Callable[..., Any], case: str) -> None:
    client = app("array_sum.py")
    r = client.post("/v2/models/modelport/infer", json=BAD[case])
    assert r.status_code == 400, (case, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    assert isinstance(r.json()["error"], str) and r.json()["error"]


def test_bad_binary_requests_are_400(app: Callable[..., Any]) -> None:
    client = app("array_sum.py")
    x = np.ones((2, 3))
    body, headers = binary_body([("data", x, "FP64")])
    url = "/v2/models/modelport/infer"
    cases = {
        "truncated payload": (body[:-8], headers),
        "binary_data_size larger than the body": (body, {HEADER: str(len(body) - 40)}),
        "header length past the body": (body, {HEADER: str(len(body) + 1)}),
        "header length not a number": (body, {HEADER: "abc"}),
        "bytes left over": (body + b"\0" * 8, headers),
        "no header for binary data": (body, {}),
        "invalid JSON header": (b"{nope" + body[5:], headers),
    }
    for what, (content, hdrs) in cases.items():
        r = client.post(url, content=content, headers=hdrs)
        assert r.status_code == 400, (what, r.status_code, r.text)
        assert r.json()["error"], what
    wrong_size = json.dumps(
        {
            "inputs": [
                {"name": "data", "shape": [2, 3], "datatype": "FP64", "parameters": {"binary_data_size": 40}}
            ]
        }
    ).encode()
    r = client.post(url, content=wrong_size + b"\0" * 40, headers={HEADER: str(len(wrong_size))})
    assert r.status_code == 400 and "takes 48" in r.json()["error"]
    r = client.post(url, content=b'{"inputs": []}', headers={"Content-Type": "text/csv"})
    assert r.status_code == 415 and r.json()["error"]


def test_auth_limits_and_run_errors_use_the_v2_error_body(app: Callable[..., Any], tmp_path: Path) -> None:
    client = app("array_sum.py", auth_key="k" * 32, max_body_mb=0.001)
    assert client.get("/v2/health/live").status_code == 200  # liveness is open, as v1's GET /
    for path in ("/v2/health/ready", "/v2", "/v2/models/modelport"):
        r = client.get(path)
        assert r.status_code == 401 and r.json()["error"] and r.headers["www-authenticate"] == "Bearer", path
    auth = {"Authorization": "Bearer " + "k" * 32}
    assert client.get("/v2/health/ready", headers=auth).status_code == 200
    big = {"inputs": [tensor("data", np.ones((100, 3)))]}
    r = client.post("/v2/models/modelport/infer", json=big, headers=auth)
    assert r.status_code == 413 and "limit" in r.json()["error"]
    metrics = client.get("/metrics", headers=auth).text
    assert 'route="/v2/models/{name}/infer"' in metrics


def test_run_raising_is_500_with_the_error(app: Callable[..., Any], tmp_path: Path) -> None:
    script = tmp_path / "boom.py"
    script.write_text("def run(raw):\n    raise ValueError('bad pixel')\n")
    client = app(script)
    r = client.post("/v2/models/modelport/infer", json={"inputs": [tensor("data", [1.0])]})
    assert r.status_code == 500 and r.json() == {"error": "run() raised ValueError: bad pixel"}


def test_openapi_document_lists_v2_routes_and_the_page_serves_swagger_ui(app: Callable[..., Any]) -> None:
    client = app("array_sum.py", service_name="svc")
    for version in ("2", "3"):
        doc = client.get(f"/swagger.json?version={version}").json()
        validate(doc)
        assert "/score" in doc["paths"] and "/v2/models/{model_name}/infer" in doc["paths"]
    example = doc["paths"]["/v2/models/{model_name}/infer"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    request = example["example"]
    assert request["inputs"][0]["name"] == "data" and request["inputs"][0]["shape"] == [1, 3]
    assert client.post("/v2/models/svc/infer", json=request).status_code == 200  # the example works
    page = client.get("/swagger")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text and "swagger.json" in page.text
    js = client.get("/swagger/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 500_000
    assert client.get("/swagger/../modelport/errors.py").status_code == 404
    assert client.get("/swagger/index.j2").status_code == 404


def test_overload_and_timeout_are_503_and_504_with_the_v2_error_body(
    app: Callable[..., Any], tmp_path: Path
) -> None:
    import threading

    started = tmp_path / "started"
    script = tmp_path / "sleepy_marks.py"  # sleepy.py that says when its run() has begun
    script.write_text(
        "import json, pathlib, time\n"
        "def run(raw_data):\n"
        "    seconds = json.loads(raw_data)['data'][0]\n"
        f"    pathlib.Path({str(started)!r}).touch()\n"
        "    time.sleep(seconds)\n"
        "    return seconds\n"
    )
    client = app(script, max_request_wait_ms=50, scoring_timeout_ms=3000)
    url = "/v2/models/modelport/infer"
    slow = threading.Thread(  # 2 s: room for the second request to arrive while it runs
        target=client.post, args=(url,), kwargs={"json": {"inputs": [tensor("data", [2.0])]}}
    )
    slow.start()
    # The first request holds the run thread once its run() has begun (a fixed 0.3 s was not
    # always enough on a busy machine: the second request then ran first, and answered 200).
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline, "the first request's run() never began"
        time.sleep(0.01)
    r = client.post(url, json={"inputs": [tensor("data", [0.0])]})
    slow.join()
    assert r.status_code == 503 and r.headers["retry-after"] and "overloaded" in r.json()["error"]
    r = client.post(url, json={"inputs": [tensor("data", [5.0])]})
    assert r.status_code == 504 and "scoring timeout" in r.json()["error"]


def test_v2_requests_are_traced_like_score(app: Callable[..., Any], tmp_path: Path) -> None:
    traces = tmp_path / "traces.jsonl"
    script = tmp_path / "talks.py"
    script.write_text("def run(raw):\n    print('scored it')\n    return 1\n")
    client = app(script, traces_file=str(traces))
    r = client.post("/v2/models/modelport/infer", json={"inputs": [tensor("data", [1.0])]})
    assert r.status_code == 200
    deadline = time.monotonic() + 30
    while not (traces.exists() and traces.read_text().strip()):
        assert time.monotonic() < deadline, "no trace written"
        time.sleep(0.05)
    line = json.loads(traces.read_text().splitlines()[-1])
    assert line["path"] == "/v2/models/modelport/infer" and "scored it" in json.dumps(line)


def test_numeric_data_takes_the_fast_path_and_odd_keys_the_generic_one() -> None:
    from modelport.protocols.tensors import load_request

    fast = load_request(b'{"inputs": [{"name": "d", "datatype": "FP64", "shape": [2], "data": [1, 2.5]}]}')
    assert isinstance(fast["inputs"][0]["data"], np.ndarray)  # simdjson straight into a buffer
    # Found by schemathesis: keys holding NUL or lone surrogates made simdjson raise after parsing.
    for odd in ('{"a\\u0000b": 1, "inputs": []}', '{"U\\ud800": {}, "inputs": []}'):
        assert load_request(odd.encode())["inputs"] == []


def test_fuzzed_bodies_are_4xx_never_500(app: Callable[..., Any]) -> None:
    client = app("array_sum.py")
    bodies = [
        b'{"Z": {}, "\\u009d\\u0000\\u0011": [], "inputs": [{"": null, "name": "", "shape": [0]}]}',
        b'{"U\\ud800": true, "inputs": [{"datatype": "BOOL", "name": "x", "shape": [], '
        b'"parameters": {"": null}}]}',
    ]
    for body in bodies:
        r = client.post(
            "/v2/models/modelport/infer", content=body, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["error"], (body, r.text)


def test_request_parameters_reach_a_run_that_declares_them(app: Callable[..., Any]) -> None:
    client = app("with_parameters.py")
    body = {
        "inputs": [tensor("data", [[1.0, 3.0]])],
        "parameters": {"threshold": 2.0, "binary_data_output": False},
    }
    doc = client.post("/v2/models/modelport/infer", json=body).json()
    outputs = {o["name"]: o for o in doc["outputs"]}
    assert outputs["above"]["data"] == [0, 1]
    assert outputs["seen"]["data"] == ["threshold"]  # the binary extension's parameter is the server's
    bad = client.post("/v2/models/modelport/infer", json={**body, "parameters": [1]})
    assert bad.status_code == 400 and "parameters" in bad.json()["error"]


# -- model metadata, @rawhttp -----------------------------------------------------------------------
def _described(output: dict[str, Any]) -> dict[str, Any]:
    """An answer's output as the metadata describes it: the first dimension is the batch."""
    return {"name": output["name"], "datatype": output["datatype"], "shape": [-1, *output["shape"][1:]]}


@pytest.mark.parametrize(
    ("script", "inputs", "outputs"),
    [
        (
            "schema_out.py",
            [tensor("data", [[0.1, 0.9, 0.2, 0.3], [0.8, 0.1, 0.1, 0.0]], "FP32")],
            [
                {"name": "label", "datatype": "INT64", "shape": [-1]},
                {"name": "scores", "datatype": "FP32", "shape": [-1, 3]},
                {"name": "note", "datatype": "BYTES", "shape": [-1]},
            ],
        ),
        (
            "schema_out_one.py",
            [tensor("data", [[1.0, 2.0], [-3.0, 1.0]])],
            [{"name": "output-0", "datatype": "INT32", "shape": [-1]}],
        ),
    ],
)
def test_output_schema_gives_the_outputs_an_inference_answers(
    app: Callable[..., Any], script: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]
) -> None:
    client = app(script)
    meta = client.get("/v2/models/modelport").json()
    assert [i["name"] for i in meta["inputs"]] == ["data"]
    answer = client.post("/v2/models/modelport/infer", json={"inputs": inputs}).json()
    assert [_described(o) for o in answer["outputs"]] == outputs
    declared = {o["name"]: o for o in meta["outputs"]}
    for output in outputs:  # a scalar sample (the note) is one element, as an answer's is
        expected = {**output, "shape": [1]} if output["datatype"] == "BYTES" else output
        assert declared.pop(output["name"]) == expected
    assert not declared


def test_plain_run_lists_inputs_from_a_swagger_file_and_outputs_once_it_answered(
    app: Callable[..., Any], digits: tuple[Path, Any, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model_dir, _, images = digits
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
    client = app(TUTORIAL, model_dir=str(model_dir), service_name="mnist")
    meta = client.get("/v2/models/mnist").json()
    assert meta["inputs"] == [] and meta["outputs"] == []  # run(raw_data) declares nothing
    r = client.post("/v2/models/mnist/infer", json={"inputs": [tensor("data", images[:3])]})
    assert r.status_code == 200, r.text
    meta = client.get("/v2/models/mnist").json()
    assert meta["inputs"] == [] and meta["outputs"] == [
        {"name": "output-0", "datatype": "INT64", "shape": [-1]}
    ]

    # The same script with a hand-written swagger file in its app root: its ServiceInput's example.
    app_root = tmp_path / "app"
    app_root.mkdir()
    (app_root / "score.py").write_text(TUTORIAL.read_text())
    definition = {
        "type": "object",
        "properties": {
            "data": {
                "type": "array",
                "items": {"type": "array", "items": {"type": "number", "format": "double"}},
            }
        },
        "example": {"data": [[0.0] * 64]},
    }
    doc = {"swagger": "2.0", "info": {}, "paths": {}, "definitions": {"ServiceInput": definition}}
    (app_root / "swagger.json").write_text(json.dumps(doc))
    client = app(app_root / "score.py", model_dir=str(model_dir), service_name="mnist")
    meta = client.get("/v2/models/mnist").json()
    assert meta["inputs"] == [{"name": "data", "datatype": "FP64", "shape": [-1, 64]}]
    assert meta["outputs"] == []
    # A 3.0 document without an example: the nesting gives the dimensions, none of their sizes.
    del definition["example"]
    doc = {
        "openapi": "3.0.3",
        "info": {},
        "paths": {},
        "components": {"schemas": {"ServiceInput": definition}},
    }
    (app_root / "swagger.json").unlink()
    (app_root / "swagger3.json").write_text(json.dumps(doc))
    client = app(app_root / "score.py", model_dir=str(model_dir), service_name="mnist")
    assert client.get("/v2/models/mnist").json()["inputs"] == [
        {"name": "data", "datatype": "FP64", "shape": [-1, -1]}
    ]


def test_rawhttp_run_gets_the_v2_request_itself(app: Callable[..., Any]) -> None:
    client = app("rawhttp_v2.py")
    url = "/v2/models/modelport/infer"
    r = client.post(url, json={"id": "r1", "inputs": [tensor("data", [[1.0, 2.0]])]})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["id"] == "r1"
    outputs = {o["name"]: o["data"] for o in doc["outputs"]}
    assert outputs["path"] == [url] and outputs["method"] == ["POST"] and outputs["header_length"] == ["none"]
    # binary data too: run() gets the whole body, JSON header and raw tensor bytes
    body, headers = binary_body([("data", np.ones((2, 3)), "FP64")])
    doc = client.post(url, content=body, headers=headers).json()
    outputs = {o["name"]: o["data"] for o in doc["outputs"]}
    assert outputs["body_bytes"] == [len(body)] and outputs["header_length"] == [headers[HEADER]]
    # run() answering an error status keeps it; a body that is no inference request never reaches run()
    r = client.post(url, json={"inputs": [tensor("data", [1.0])]}, headers={"X-Teapot": "1"})
    assert r.status_code == 418 and "short and stout" in r.json()["error"]
    r = client.post(url, json={"data": [[1.0, 2.0]]})
    assert r.status_code == 400 and "inputs" in r.json()["error"]
    assert client.get("/v2/models/modelport").json()["inputs"] == []


def test_a_lone_surrogate_reaches_run_or_is_a_400_never_a_500(
    app: Callable[..., Any], tmp_path: Path
) -> None:
    """``"\\ud800"`` is valid JSON that orjson will not write back (the reliability fuzz found it):
    a plain run() still gets it, escaped as the client sent it, and an error naming it is a 400."""
    script = tmp_path / "echo.py"
    script.write_text("import json\n\ndef run(raw):\n    return json.loads(raw)['data'] == ['\\ud800']\n")
    client = app(script)
    headers = {"content-type": "application/json"}
    body = '{"inputs": [{"name": "data", "shape": [1], "datatype": "BYTES", "data": ["\\ud800"]}]}'
    r = client.post("/v2/models/modelport/infer", content=body.encode(), headers=headers)
    assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [True]
    bad = '{"inputs": [{"name": "\\ud800", "shape": [2], "datatype": "FP64", "data": [1]}]}'
    r = client.post("/v2/models/modelport/infer", content=bad.encode(), headers=headers)
    assert r.status_code == 400 and "holds 2 element(s)" in r.json()["error"]
