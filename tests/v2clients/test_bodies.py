"""A real server hands a V2 binary tensor to run() as a view of the request body, without a copy,
when it is aligned, and as an aligned copy when it is not (numpy computes on misaligned data
without BLAS: several times slower)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.v2clients.test_clients import _free_port, _stop

pytestmark = pytest.mark.process

SCRIPT = Path(__file__).resolve().parents[1] / "protocols" / "v2_scripts" / "body_view.py"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("bodies")
    port = _free_port()
    cmd = [sys.executable, "-m", "modelport.server", "--entry-script", str(SCRIPT), "--port", str(port)]
    log = tmp / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if requests.get(f"{base}/v2/health/ready", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # refused, or slow to answer on a busy machine
                pass
            time.sleep(0.1)
        yield base
    finally:
        _stop(proc)


def _post(url: str, rows: np.ndarray, pad: int) -> dict[str, list[object]]:
    """``rows`` as binary data after a JSON header of a length ``pad`` (mod 8) spaces change."""
    tensor = {"name": "data", "shape": list(rows.shape), "datatype": "FP64"}
    header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": rows.nbytes}}]})
    header += " " * ((pad - len(header)) % 8)
    body = header.encode() + rows.tobytes()
    r = requests.post(
        f"{url}/v2/models/modelport/infer",
        data=body,
        headers={"Inference-Header-Content-Length": str(len(header))},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return {o["name"]: o["data"] for o in r.json()["outputs"]}


def test_a_large_aligned_binary_tensor_is_a_view_of_the_body(url: str) -> None:
    rows = np.arange(4 * 100_000, dtype="<f8").reshape(-1, 4)  # 3.2 MB: uvicorn would stream it
    got = _post(url, rows, pad=0)
    assert got == {"owner": ["body"], "aligned": [True], "sum": [float(rows.sum())]}


def test_a_misaligned_binary_tensor_is_copied_aligned(url: str) -> None:
    rows = np.arange(4 * 1000, dtype="<f8").reshape(-1, 4)
    got = _post(url, rows, pad=3)
    assert got == {"owner": ["copy"], "aligned": [True], "sum": [float(rows.sum())]}
