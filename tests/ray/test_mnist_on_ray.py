"""Issue 13's v1-style program: the tutorial's model and score.py on Ray, all 10,000 test images.

The tutorial's own model takes ~100 s to train here, so this trains it on the first 2,000 rows
(bench.model's smoke model, ~2 s); bench.ray_bench scores the full model (accuracy 0.9193).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
import requests

from bench.model import load_split, trained_model
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AksWebservice, LocalWebservice
from modelport.workspace import Workspace
from tests.fixtures import TUTORIAL_SCORE
from tests.ray.conftest import Provisioned

pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]


def test_tutorial_model_on_ray_scores_the_10000_test_images_as_the_local_service(
    dws: Workspace, ray_cluster: Provisioned, tmp_path: Path
) -> None:
    trained = trained_model(tmp_path / "cache", smoke=True)
    x, y = load_split(train=False)
    expected = joblib.load(trained.path).predict(x)
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(TUTORIAL_SCORE, src / "score.py")
    ws = dws
    aks = ray_cluster.attach(ws, "aks")
    model = Model.register(ws, str(trained.path), "sklearn_mnist")
    inference_config = InferenceConfig("score.py", source_directory=str(src))
    config = AksWebservice.deploy_configuration(
        autoscale_enabled=True, autoscale_min_replicas=1, autoscale_max_replicas=3
    )
    service = Model.deploy(ws, "mnist-ray", [model], inference_config, config, deployment_target=aks)
    local = Model.deploy(ws, "mnist-local", [model], inference_config, LocalWebservice.deploy_configuration())
    service.wait_for_deployment(show_output=True, timeout_sec=300)
    local.wait_for_deployment(timeout_sec=120)
    body = json.dumps({"data": x.tolist()})

    through_sdk = np.array(service.run(input_data=body))
    key = service.get_keys()[0]
    answer = requests.post(
        service.scoring_uri,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        timeout=300,
    )
    assert answer.status_code == 200, answer.text[:500]
    through_requests = np.array(answer.json())
    from_local = np.array(local.run(input_data=body))

    assert through_sdk.shape == (10_000,)
    np.testing.assert_array_equal(through_sdk, expected)
    np.testing.assert_array_equal(through_requests, expected)
    np.testing.assert_array_equal(from_local, expected)
    assert float(np.mean(through_sdk == y)) == pytest.approx(float(np.mean(expected == y)))
    local.delete()
    service.delete()
    from ray import serve

    assert "mnist-ray" not in serve.status().applications
