"""Issue 24's acceptance, as a v1 program: collect what a service sees, read it back, tell drift.

The scoring script is v1's "collect data from models in production" one (ModelDataCollector for
inputs and predictions, azureml renamed); the service is deployed with ``collect_model_data=True``
and scores the MNIST test images; the collected rows come back as a v1 TabularDataset; a
DataDriftDetector compares them with the training images (no drift) and a shifted set with them
(drift on exactly the shifted pixels). A worker killed with SIGKILL under load loses no more than
the rows of the last flush interval.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import requests

from modelport.core import Dataset, Workspace
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import LocalWebservice
from modelport.datadrift import DataDriftDetector
from modelport.deploy import engine, records
from tests.fixtures import head_images, load_mnist, wait_until

pytestmark = pytest.mark.process

PIXELS = [f"pixel{i}" for i in range(784)]
TRAIN_ROWS = 10_000
SCORED = 2_000
SHIFTED = np.arange(300, 500)  # the pixels the shifted set brightens (the middle rows)
FLUSH_INTERVAL_S = 1.0  # CollectionConfig's default: what a SIGKILL may lose
WRITE_ALLOWANCE_S = 1.0  # plus one write of what was buffered, on a busy machine

SCORE = """
import json
import os

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
    correlations = inputs_dc.collect(data)
    prediction_dc.collect(prediction_dc.add_correlations(result.reshape(-1, 1), correlations))
    return result.tolist()
"""


def _csv(path: Path, x: np.ndarray) -> None:
    with open(path, "w") as f:
        f.write(",".join(PIXELS) + "\n")
        for row in x:
            f.write(",".join(f"{v:.6g}" for v in row) + "\n")


@pytest.fixture(scope="module")
def mnist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    x = head_images("train-images-idx3-ubyte.gz", TRAIN_ROWS) / 255.0
    test = load_mnist("t10k-images-idx3-ubyte.gz") / 255.0
    rng = np.random.default_rng(24)
    return {"train": x, "test": test[rng.permutation(len(test))[:SCORED]]}


def _drifted(metrics: list[dict]) -> set[str]:
    columns = metrics[0]["metrics"][0]["column_metrics"]
    return {
        name for c in columns for name, values in c.items() if {"name": "drifted", "value": True} in values
    }


def _deploy(ws: Workspace, tmp_path: Path, mnist: dict[str, np.ndarray], name: str) -> tuple[Model, object]:
    import joblib
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    y = load_mnist("train-labels-idx1-ubyte.gz", True).reshape(-1)[:1500]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=60).fit(mnist["train"][:1500], y)
    joblib.dump(clf, tmp_path / "sklearn_mnist_model.pkl")
    datastore = ws.get_default_datastore()
    folder = Path(datastore.root) / "mnist-train"
    folder.mkdir(parents=True, exist_ok=True)
    _csv(folder / "train.csv", mnist["train"])
    train_ds = Dataset.Tabular.from_delimited_files(datastore.path("mnist-train/train.csv"))
    train_ds = train_ds.register(ws, "mnist-train")
    model = Model.register(
        ws, str(tmp_path / "sklearn_mnist_model.pkl"), "sklearn_mnist", datasets=[("training", train_ds)]
    )
    (tmp_path / "score.py").write_text(SCORE)
    config = LocalWebservice.deploy_configuration(collect_model_data=True)
    service = Model.deploy(
        ws, name, [model], InferenceConfig(entry_script=str(tmp_path / "score.py")), config
    )
    service.wait_for_deployment(show_output=True)
    return model, service


def test_collect_read_back_and_drift(home: Path, tmp_path: Path, mnist: dict[str, np.ndarray]) -> None:
    ws = Workspace.create("monitor-ws", exist_ok=True)
    _model, service = _deploy(ws, tmp_path, mnist, "mnist-svc")
    try:
        images = mnist["test"]
        predicted: list[int] = []
        for start in range(0, SCORED, 100):  # the test images, 100 a request
            predicted += service.run(json.dumps({"data": images[start : start + 100].tolist()}))
        # One more, with the client's own request id: the collected row carries it.
        answer = requests.post(
            service.scoring_uri,
            data=json.dumps({"data": images[:1].tolist()}),
            headers={"Content-Type": "application/json", "x-request-id": "acceptance-24"},
            timeout=30,
        )
        assert answer.status_code == 200 and answer.headers["x-request-id"] == "acceptance-24"
        datastore = ws.get_default_datastore()
        wsid = f"{ws.subscription_id}/{ws.resource_group}/{ws.name}".lower()
        inputs = Dataset.Tabular.from_delimited_files(
            datastore.path(f"modeldata/{wsid}/mnist-svc/sklearn_mnist/1/inputs/**/data.csv"), validate=False
        )

        def all_there() -> bool:
            try:
                return len(inputs.to_pandas_dataframe()) == SCORED + 1
            except Exception:
                return False

        wait_until(all_there, 60, "the collected rows on disk (written every second)")
        frame = inputs.to_pandas_dataframe()
        assert list(frame.columns[:784]) == PIXELS and frame.columns[784] == "$aml_dc_correlation_id"
        assert np.allclose(frame[PIXELS].to_numpy()[:SCORED], images, atol=1e-9)
        assert set(frame["$aml_service_name"]) == {"mnist-svc"}
        assert set(frame["$aml_model_version"]) == {1}
        assert frame["$aml_request_id"].iloc[-1] == "acceptance-24"
        assert frame["$aml_request_id"].iloc[:SCORED].nunique() == SCORED // 100  # a request, an id
        predictions = Dataset.Tabular.from_delimited_files(
            datastore.path(f"modeldata/{wsid}/mnist-svc/sklearn_mnist/1/predictions/**/data.csv"),
            validate=False,
        )
        answers = predictions.to_pandas_dataframe()
        assert len(answers) == SCORED + 1 and answers["prediction"].tolist()[:SCORED] == predicted
        # add_correlations joined each request's predictions to its inputs (one id per collect()).
        assert answers["$aml_dc_correlation_id"].tolist() == frame["$aml_dc_correlation_id"].tolist()

        # Drift: what the service saw against the model's training images: none.
        today = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        monitor = DataDriftDetector.create_from_model(ws, "sklearn_mnist", 1, ["mnist-svc"], frequency="Day")
        monitor.run(today)
        results, metrics = monitor.get_output(start_time=today - datetime.timedelta(days=1))
        [result] = results[0]["result"]
        share = next(
            m["value"] for m in metrics[0]["metrics"][0]["dataset_metrics"] if m["name"] == "drift_share"
        )
        # MNIST's test writers are not all its training writers: a few pixels (~2%) differ a little
        # between the two sets; far below the 0.2 threshold, so no drift.
        assert result["has_drift"] is False and share < 0.05, share
        unshifted = _drifted(metrics)

        # A shifted set (the middle pixels brighter) against the training images: drift, there.
        shifted = images.copy()
        shifted[:, SHIFTED] = np.clip(shifted[:, SHIFTED] + 0.3, 0, 1)
        folder = Path(datastore.root) / "mnist-shifted"
        folder.mkdir()
        _csv(folder / "shifted.csv", shifted)
        shifted_ds = Dataset.Tabular.from_delimited_files(datastore.path("mnist-shifted/shifted.csv"))
        train_ds = Dataset.get_by_name(ws, "mnist-train")
        check = DataDriftDetector.create_from_datasets(ws, "shifted-check", train_ds, shifted_ds)
        check.run(today)
        results, metrics = check.get_output(start_time=today - datetime.timedelta(days=1))
        assert results[0]["result"][0]["has_drift"] is True
        drifted = _drifted(metrics)
        expected = {f"pixel{i}" for i in SHIFTED}
        assert len(drifted & expected) >= 0.95 * len(expected), sorted(expected - drifted)[:20]
        # Outside the shifted pixels, only those that differed already without the shift.
        assert len((drifted - expected) - unshifted) <= 3, sorted((drifted - expected) - unshifted)

        # /metrics: the rows written, nothing dropped, and the drift figures as gauges.
        text = requests.get(service.scoring_uri.replace("/score", "/metrics"), timeout=30).text
        assert 'modelport_collected_rows_total{designation="inputs"} 2001.0' in text
        assert "modelport_collect_dropped_rows_total{" not in text or " 0.0" in text
        assert f'modelport_drift_share{{detector="{monitor.name}"}}' in text
        assert f'modelport_drift_detected{{detector="{monitor.name}"}} 0.0' in text

        # Switched off with update(): the script runs the same, and nothing more is collected.
        service.update(collect_model_data=False)
        service.wait_for_deployment()
        assert records.load(ws, "mnist-svc").spec.settings.collect_model_data is False
        service.run(json.dumps({"data": images[:3].tolist()}))
        assert len(inputs.to_pandas_dataframe()) == SCORED + 1
        # And on again: the redeployed workers collect from the next request.
        service.update(collect_model_data=True)
        service.wait_for_deployment()
        assert records.load(ws, "mnist-svc").spec.settings.collect_model_data is True
        service.run(json.dumps({"data": images[:3].tolist()}))
        wait_until(
            lambda: len(inputs.to_pandas_dataframe()) == SCORED + 4, 60, "the rows collected after update()"
        )
    finally:
        service.delete()


def test_a_worker_killed_mid_load_loses_at_most_the_last_flush(
    home: Path, tmp_path: Path, mnist: dict[str, np.ndarray]
) -> None:
    ws = Workspace.create("kill-ws", exist_ok=True)
    _model, service = _deploy(ws, tmp_path, mnist, "kill-svc")
    stop = threading.Event()
    try:
        record = records.load(ws, "kill-svc")
        root = psutil.Process(engine.processes(record)[0])
        [worker] = root.children()
        row = json.dumps({"data": mnist["test"][:1].tolist()})
        answered: list[tuple[float, str]] = []

        def load() -> None:
            session = requests.Session()
            deadline = time.monotonic() + 120
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    r = session.post(
                        service.scoring_uri,
                        data=row,
                        timeout=30,
                        headers={"Content-Type": "application/json"},
                    )
                except requests.RequestException:
                    continue
                if r.status_code == 200:
                    answered.append((time.monotonic(), r.headers["x-request-id"]))

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        # Enough load that many rows were answered well before the kill: the promise is about them.
        wait_until(lambda: len(answered) >= 300 and answered[-1][0] - answered[0][0] > 5, 120, "5 s of load")
        killed_at = time.monotonic()
        os.kill(worker.pid, signal.SIGKILL)

        def replaced() -> bool:
            # One listing: the killed worker may be reaped between two of them (the list then empty).
            children = root.children()
            return len(children) == 1 and children[0].pid != worker.pid

        wait_until(replaced, 60, "a new worker")
        count = len(answered)
        wait_until(lambda: len(answered) >= count + 100, 90, "100 answers from the new worker")
        stop.set()
        for t in threads:
            t.join(60)
        service.delete()  # a graceful stop: the new worker flushes what it collected
        wsid = f"{ws.subscription_id}/{ws.resource_group}/{ws.name}".lower()
        files = list(
            (Path(ws.get_default_datastore().root) / "modeldata" / wsid / "kill-svc").rglob(
                "inputs/**/data.csv"
            )
        )
        collected = set(pd.concat([pd.read_csv(f) for f in files])["$aml_request_id"])
        promised = killed_at - FLUSH_INTERVAL_S - WRITE_ALLOWANCE_S
        lost = [(t, rid) for t, rid in answered if rid not in collected]
        assert all(t > promised for t, _ in lost), (
            f"{len(lost)} rows lost, some answered more than {promised - killed_at:+.1f} s before the kill"
        )
        assert sum(1 for t, _ in answered if t <= promised) >= 100  # the promise was put to the test
        assert all(rid in collected for t, rid in answered if t > killed_at + 5)  # the new worker's
    finally:
        stop.set()  # the load threads end with the test, also when it failed
        engine.delete(ws, "kill-svc", missing_ok=True)
