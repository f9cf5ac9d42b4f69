"""AksEndpoint on Ray: two versions split by traffic percentile, an update shifts it, a header pins one."""

from __future__ import annotations

import math
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AksEndpoint
from modelport.errors import InvalidInputError
from modelport.workspace import Workspace
from tests.fixtures import SCRIPTS
from tests.ray.conftest import Provisioned

# Starting a cluster takes 40-70 s here, and minutes when the machine is busy.
pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]
HEADER = "azureml-model-deployment"


def _served_by(uri: str, key: str, n: int) -> Counter[str]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with requests.Session() as session:

        def one(_i: int) -> str:
            answer = session.post(uri, data=b'{"x": 1}', headers=headers, timeout=60)
            assert answer.status_code == 200, answer.text
            return answer.headers[HEADER]

        with ThreadPoolExecutor(8) as pool:
            return Counter(pool.map(one, range(n)))


def _within(count: int, n: int, p: float) -> bool:
    """Inside the two-sided 99.9% normal bound of Binomial(n, p) (z = 3.29)."""
    return abs(count - n * p) <= 3.29 * math.sqrt(n * p * (1 - p))


def test_two_versions_split_update_and_pin(
    dws: Workspace, ray_cluster: Provisioned, digits_model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    aks = ray_cluster.attach(dws, "aks")
    model = Model.register(dws, digits_model[0], "sklearn_mnist")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SCRIPTS / "plain_echo.py", src / "score.py")
    ic = InferenceConfig("score.py", source_directory=src)
    config = AksEndpoint.deploy_configuration(version_name="blue", num_replicas=1, autoscale_enabled=False)
    endpoint = Model.deploy(dws, "mnist-ep", [model], ic, config, deployment_target=aks)
    assert isinstance(endpoint, AksEndpoint)
    endpoint.wait_for_deployment(timeout_sec=180)
    endpoint.create_version(
        "green", models=[model], inference_config=ic, traffic_percentile=20, num_replicas=1
    )
    endpoint.wait_for_deployment(timeout_sec=180)
    assert set(endpoint.versions) == {"blue", "green"} and endpoint.default_version == "blue"
    assert endpoint.traffic() == {"green": 20.0, "blue": 80.0}
    assert endpoint.scoring_uri.endswith("/api/v1/service/mnist-ep/score")
    key = endpoint.get_keys()[0]

    counts = _served_by(endpoint.scoring_uri, key, 1000)
    assert set(counts) == {"blue", "green"} and _within(counts["green"], 1000, 0.2), counts

    endpoint.update_version("green", traffic_percentile=50)
    endpoint.wait_for_deployment(timeout_sec=120)
    counts = _served_by(endpoint.scoring_uri, key, 1000)
    assert _within(counts["green"], 1000, 0.5), counts

    auth = {"Authorization": f"Bearer {key}"}
    for version in ("blue", "green"):
        pinned = [
            requests.post(endpoint.scoring_uri, data=b"{}", headers={**auth, HEADER: version}, timeout=30)
            for _ in range(10)
        ]
        assert {r.headers[HEADER] for r in pinned} == {version}
    unknown = requests.post(endpoint.scoring_uri, data=b"{}", headers={**auth, HEADER: "red"}, timeout=30)
    assert unknown.status_code == 404 and unknown.json()["code"] == "NotFoundError"
    anonymous = requests.post(endpoint.scoring_uri, data=b"{}", timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "AuthError"
    assert endpoint.run(input_data={"x": 2})["echo"] == {"x": 2}

    with pytest.raises(InvalidInputError, match="default"):
        endpoint.delete_version("blue")
    endpoint.delete_version("green")
    endpoint.wait_for_deployment(timeout_sec=120)
    assert set(endpoint.versions) == {"blue"}
    assert {_served_by(endpoint.scoring_uri, key, 20).most_common(1)[0][0]} == {"blue"}
    endpoint.delete()
    from ray import serve

    apps = serve.status().applications
    assert not [a for a in apps if a.startswith("mnist-ep")]
