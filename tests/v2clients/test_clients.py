"""Independent V2 clients (Triton's ``tritonclient[http]`` and the spec-generated
``open-inference-openapi``) against a real modelport server running the tutorial's unchanged
score.py, and the same checks against MLServer as a control (so a check that only agrees with
modelport cannot pass). MLServer runs from the benchmark's cached venv (bench/envs.py; ~40 s to
build on a fresh machine, then reused), one process for the module.

MLServer has no binary tensor extension: the binary checks run against modelport only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from tests.fixtures import stop_group

pytestmark = pytest.mark.process

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "examples" / "mnist" / "score.py"
MODEL = "mnist"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if requests.get(f"{url}/v2/models/{MODEL}/ready", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # refused, or slow to answer on a busy machine
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} not ready after {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    stop_group(proc)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, np.ndarray]:
    """The tutorial's kind of model (LogisticRegression on images / max), on sklearn's 8x8 digits."""
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    data = load_digits()
    x, y = data.data / 16.0, data.target
    model = LogisticRegression(max_iter=500).fit(x[:1500], y[:1500])
    folder = tmp_path_factory.mktemp("model")
    joblib.dump(model, folder / "sklearn_mnist_model.pkl")
    return folder, model, x[1500:]


def _modelport(tmp: Path, model_dir: Path) -> Iterator[str]:
    port = _free_port()
    log = tmp / "modelport.log"
    cmd = [sys.executable, "-m", "modelport.server", "--entry-script", str(TUTORIAL), "--port", str(port)]
    cmd += ["--model-dir", str(model_dir), "--config", str(tmp / "server.json")]
    (tmp / "server.json").write_text(
        json.dumps({"service_name": MODEL, "models": [{"name": MODEL, "version": 2}]})
    )
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url, log)
        yield url
    finally:
        _stop(proc)


def _mlserver(tmp: Path, model_dir: Path) -> Iterator[str]:
    import sklearn

    sys.path.insert(0, str(REPO))
    from bench.envs import ensure_env
    from bench.servers import MLServer

    server = MLServer()
    cache = Path(
        os.environ.get("MODELPORT_BENCH_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelport-bench"
    )
    requirements = server.requirements(sklearn.__version__)
    assert requirements is not None
    env = ensure_env(cache, "mlserver", requirements, tmp / "install-mlserver.log")
    launch = server.launch(env, tmp, model_dir / "sklearn_mnist_model.pkl", [_free_port(), _free_port()])
    log = tmp / "mlserver.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            launch.cmd,
            cwd=launch.cwd,
            env=launch.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{launch.port}"
    try:
        _wait_ready(proc, url, log, timeout=120)
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="module", params=["modelport", "mlserver"])
def server(
    request: pytest.FixtureRequest, digits: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(kind, base URL) of a running server holding the digits model as ``mnist``."""
    tmp = tmp_path_factory.mktemp(request.param)
    start = _modelport if request.param == "modelport" else _mlserver
    for url in start(tmp, digits[0]):
        yield request.param, url


def test_tritonclient_health_metadata_and_json_infer(server: tuple[str, str], digits: Any) -> None:
    import tritonclient.http as httpclient

    kind, url = server
    _, model, images = digits
    client = httpclient.InferenceServerClient(url=url.removeprefix("http://"))
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(MODEL)
    assert client.get_server_metadata()["name"]
    assert client.get_model_metadata(MODEL)["name"] == MODEL
    rows = images[:20]
    name = "data" if kind == "modelport" else "predict"  # MLServer's sklearn runtime takes any name
    given = httpclient.InferInput(name, list(rows.shape), "FP64")
    given.set_data_from_numpy(rows, binary_data=False)
    result = client.infer(MODEL, [given], request_id="t-1")
    response = result.get_response()
    assert response["id"] == "t-1"
    predicted = result.as_numpy(response["outputs"][0]["name"])
    assert predicted.reshape(-1).tolist() == model.predict(rows).tolist()
    meta = client.get_model_metadata(MODEL)  # parsed by the client, after an inference
    assert isinstance(meta["inputs"], list) and isinstance(meta["outputs"], list)
    if kind == "modelport":  # the tutorial's run() declares nothing: its first answer's outputs
        assert meta["outputs"] == [{"name": "output-0", "datatype": "INT64", "shape": [-1]}]
    with pytest.raises(Exception, match=r"(?i)not found|unknown|no model"):
        client.infer("no-such-model", [given])


def test_tritonclient_binary_inputs_and_outputs(server: tuple[str, str], digits: Any) -> None:
    import tritonclient.http as httpclient

    kind, url = server
    if kind == "mlserver":
        pytest.skip("MLServer 1.7.1 has no binary tensor extension (platform notes)")
    _, model, images = digits
    client = httpclient.InferenceServerClient(url=url.removeprefix("http://"))
    rows = images[:50].astype(np.float32)
    given = httpclient.InferInput("data", list(rows.shape), "FP32")
    given.set_data_from_numpy(rows, binary_data=True)
    for outputs in (None, [httpclient.InferRequestedOutput("output-0", binary_data=True)]):
        result = client.infer(MODEL, [given], outputs=outputs)
        output = result.get_response()["outputs"][0]
        assert "binary_data_size" in output["parameters"]
        assert result.as_numpy("output-0").tolist() == model.predict(rows.astype(np.float64)).tolist()


def test_open_inference_client(server: tuple[str, str], digits: Any) -> None:
    from open_inference.openapi.client import OpenInferenceClient
    from open_inference.openapi.types import InferenceRequest, RequestInput

    kind, url = server
    _, model, images = digits
    client = OpenInferenceClient(base_url=url)
    client.check_server_liveness()
    client.check_server_readiness()
    client.check_model_readiness(MODEL)
    assert client.read_server_metadata().name
    assert client.read_model_metadata(MODEL).name == MODEL
    rows = images[:10]
    tensor = RequestInput(
        name="data" if kind == "modelport" else "predict",
        shape=list(rows.shape),
        datatype="FP64",
        data=rows.reshape(-1).tolist(),
    )
    response = client.model_infer(MODEL, request=InferenceRequest(id="o-1", inputs=[tensor]))
    assert response.id == "o-1"
    data = json.loads(response.outputs[0].data.json())
    assert np.asarray(data).reshape(-1).tolist() == model.predict(rows).tolist()
    meta = client.read_model_metadata(MODEL)
    if kind == "modelport":
        assert [(o.name, o.datatype, o.shape) for o in meta.outputs or []] == [("output-0", "INT64", [-1])]


def test_bad_input_is_4xx_with_a_json_error(server: tuple[str, str]) -> None:
    kind, url = server
    infer = f"{url}/v2/models/{MODEL}/infer"
    good = {"name": "data", "shape": [1, 64], "datatype": "FP64", "data": [0.0] * 64}
    cases = {
        "wrong datatype": {"inputs": [{**good, "datatype": "FP99"}]},
        "shape/data mismatch": {"inputs": [{**good, "shape": [2, 64]}]},
    }
    # Measured: MLServer 1.7.1 answers a shape/data mismatch with 500 (numpy's reshape error).
    quirks = {("mlserver", "shape/data mismatch"): 500}
    for what, body in cases.items():
        r = requests.post(infer, json=body, timeout=30)
        expected = quirks.get((kind, what))
        if expected is not None:
            assert r.status_code == expected, (kind, what, r.status_code, r.text)
        else:
            assert 400 <= r.status_code < 500, (kind, what, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json"), (kind, what)
    r = requests.post(f"{url}/v2/models/nope/infer", json={"inputs": [good]}, timeout=30)
    assert r.status_code == 404, (kind, r.text)
    if kind == "mlserver":
        return  # MLServer answers 422 with FastAPI's body, and has no binary extension
    for what, body in cases.items():
        r = requests.post(infer, json=body, timeout=30)
        assert r.status_code == 400 and r.json()["error"], what
    head = json.dumps(
        {
            "inputs": [
                {**{k: v for k, v in good.items() if k != "data"}, "parameters": {"binary_data_size": 512}}
            ]
        }
    ).encode()
    raw = np.zeros(64).tobytes()
    for what, body in {
        "truncated binary payload": head + raw[:100],
        "binary_data_size > body": head + raw[:8],
    }.items():
        r = requests.post(
            infer, data=body, headers={"Inference-Header-Content-Length": str(len(head))}, timeout=30
        )
        assert r.status_code == 400 and r.json()["error"], (what, r.text)
    r = requests.post(infer, json={"inputs": [{**good, "name": "pixels"}]}, timeout=30)
    # A plain run(raw_data) declares no inputs: it gets {"pixels": ...} and its own KeyError is a 500
    # (scripts that declare inputs answer an unknown name with 400: tests/protocols/test_v2.py).
    assert r.status_code == 500 and r.json()["error"] == "run() raised KeyError: 'data'"
