"""The Monitoring tab, in the browser: a service deployed with collect_model_data=True scores test
images, a DataDriftDetector compares what it collected (and two earlier days, one of them shifted)
with the training images, and the tab shows collection on, the rows per day, the counters, the
drift share over time, the most drifted features and the report to download."""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from tests.fixtures import head_images, wait_until
from tests.studio.conftest import TOKEN, StudioWorld, Tab
from tests.studio.test_browser import shot

pytestmark = pytest.mark.process

SERVICE = "monitor-svc"
DETECTOR = "digits-drift"
PIXELS = [f"pixel{i}" for i in range(784)]
SCORED = 40
SCORE = """
import json, os
import joblib
import numpy as np
from modelport.monitoring import ModelDataCollector

def init():
    global model, inputs_dc, prediction_dc
    model = joblib.load(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "sklearn_mnist_model.pkl"))
    inputs_dc = ModelDataCollector("sklearn_mnist", designation="inputs",
                                   feature_names=["pixel%d" % i for i in range(784)])
    prediction_dc = ModelDataCollector("sklearn_mnist", designation="predictions",
                                       feature_names=["prediction"])

def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    result = model.predict(data)
    prediction_dc.collect(prediction_dc.add_correlations(result.reshape(-1, 1), inputs_dc.collect(data)))
    return result.tolist()
"""


def _write_day(folder: Path, day: datetime.date, x: np.ndarray) -> None:
    """Rows as the collector lays them out, for a day before this one."""
    path = folder / f"{day:%Y/%m/%d}" / "data.csv"
    path.parent.mkdir(parents=True)
    with open(path, "w") as f:
        f.write(",".join([*PIXELS, "$aml_dc_scoring_timestamp"]) + "\n")
        for row in x:
            f.write(",".join(f"{v:.6g}" for v in row) + f",{day.isoformat()}T10:00:00.000001\n")


@pytest.fixture(scope="module")
def monitored(world: StudioWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioWorld]:
    from modelport.core import Dataset
    from modelport.core.model import InferenceConfig, Model
    from modelport.core.webservice import LocalWebservice
    from modelport.core.workspace import Workspace
    from modelport.datadrift import DataDriftDetector
    from modelport.deploy import engine
    from modelport.monitoring.drift.detector import workspace_id

    tmp = tmp_path_factory.mktemp("monitoring")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELPORT_HOME", str(world.home))
        ws = Workspace(world.ws.name, world.ws.path)
        src = tmp / "src"
        src.mkdir()
        (src / "score.py").write_text(SCORE)
        model = Model(ws, "sklearn_mnist")
        config = LocalWebservice.deploy_configuration(collect_model_data=True, retention_days=7)
        service = Model.deploy(
            ws, SERVICE, [model], InferenceConfig(entry_script="score.py", source_directory=src), config
        )
        service.wait_for_deployment(timeout_sec=120)
        test_x = world.digits.test_x[:SCORED]
        for row in test_x:
            service.run(json.dumps({"data": [row.tolist()]}))
        datastore = ws.get_default_datastore()
        inputs = (
            Path(datastore.root) / "modeldata" / workspace_id(ws) / SERVICE / "sklearn_mnist" / "1" / "inputs"
        )
        today = datetime.datetime.now(datetime.UTC).date()
        collected = inputs / f"{today:%Y/%m/%d}" / "data.csv"
        # Every row on disk (written each second) before the detector reads the day.
        wait_until(
            lambda: collected.exists() and len(collected.read_bytes().splitlines()) == SCORED + 1,
            60,
            "today's collected rows",
        )
        train = head_images("train-images-idx3-ubyte.gz", 1500) / 255.0
        _write_day(inputs, today - datetime.timedelta(days=2), train[:300])
        shifted = train[300:600].copy()
        shifted[:, 300:500] = np.clip(shifted[:, 300:500] + 0.4, 0, 1)
        _write_day(inputs, today - datetime.timedelta(days=1), shifted)
        (Path(datastore.root) / "digits-train").mkdir()
        with open(Path(datastore.root) / "digits-train" / "train.csv", "w") as f:
            f.write(",".join(PIXELS) + "\n")
            for row in train:
                f.write(",".join(f"{v:.6g}" for v in row) + "\n")
        baseline = Dataset.Tabular.from_delimited_files(datastore.path("digits-train/train.csv"))
        target = Dataset.Tabular.from_delimited_files(
            datastore.path(f"modeldata/{workspace_id(ws)}/{SERVICE}/sklearn_mnist/1/inputs/**/data.csv")
        )
        detector = DataDriftDetector.create_from_datasets(ws, DETECTOR, baseline, target)
        detector.backfill(today - datetime.timedelta(days=2), today)
    try:
        yield world
    finally:
        engine.delete(world.ws, SERVICE, missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)


def test_monitoring_tab_shows_collection_and_drift(monitored: StudioWorld, tab: Tab, tmp_path: Path) -> None:
    page = tab.open(f"#/services/{SERVICE}/monitoring")
    assert page.locator("#collection-state").inner_text() == "on"
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    inputs_today = page.locator(f'#collected-days tr[data-day="{today}"][data-designation="inputs"] td.rows')
    assert inputs_today.inner_text() == str(SCORED)
    predictions = page.locator(
        f'#collected-days tr[data-day="{today}"][data-designation="predictions"] td.rows'
    )
    assert predictions.inner_text() == str(SCORED)
    # Counters from the service's /metrics: the rows written so far (40 inputs, 40 predictions).
    written = page.locator("#card-collection dd").nth(2)
    wait_until(lambda: written.inner_text() == str(2 * SCORED), 30, "the counters", interval=0.5)
    card = page.locator(f'.detector[data-detector="{DETECTOR}"]')
    assert "no drift" in card.locator("h2").first.inner_text()  # today's images are like the training ones
    assert card.locator("svg[aria-label='Drift share per window'] polyline").count() == 1
    assert card.locator("svg[aria-label='Most drifted features (test figure)'] polyline").count() >= 3
    legend = card.locator(".legend").nth(1).inner_text()
    assert "pixel3" in legend or "pixel4" in legend  # the shifted middle pixels drifted yesterday
    rows = card.locator("table.drift-features tbody tr")
    assert rows.count() == 20
    shot(tab, "monitoring-tab", tmp_path)
    href = card.locator("a.report-link").get_attribute("href")
    assert href is not None
    report = requests.get(monitored.url + href, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert report.status_code == 200 and "attachment" in report.headers["content-disposition"]
    assert f"<h1>Data drift: {DETECTOR}" in report.text


def test_a_service_that_does_not_collect_says_how_to(monitored: StudioWorld, tab: Tab) -> None:
    page = tab.open(f"#/services/{monitored.healthy}/monitoring")
    assert page.locator("#collection-state").inner_text() == "off"
    assert "collect_model_data=True" in page.locator("#card-collection").inner_text()
    assert page.locator("#no-detectors").is_visible()


def test_monitoring_api_for_scripts(monitored: StudioWorld) -> None:
    data: dict[str, Any] = monitored.api("GET", f"/api/services/{SERVICE}/monitoring").json()
    assert data["collecting"] is True and data["retention_days"] == 7
    [detector] = data["detectors"]
    assert [p["has_drift"] for p in detector["series"]] == [False, True, False]
    assert monitored.api("GET", f"/api/services/{SERVICE}/monitoring/report/nope").status_code == 404
