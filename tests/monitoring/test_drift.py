"""Drift: the per-feature tests on data whose drift is known, the fast reader against pandas, and
v1's DataDriftDetector over registered datasets and collected rows."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelport.errors import InvalidInputError, NotSupported
from modelport.monitoring.drift.metrics import compare
from modelport.monitoring.drift.profile import profile
from modelport.monitoring.drift.table import Table, read_csv

RNG = np.random.default_rng(7)


def _table(frame: pd.DataFrame) -> Table:
    return Table.from_frame(frame)


def _frame(rows: int, shift: float = 0.0, flip: float = 0.0) -> pd.DataFrame:
    cities = np.where(RNG.random(rows) < 0.3 + flip, "Oslo", "Lyon")
    return pd.DataFrame(
        {
            "age": RNG.normal(40 + shift, 10, rows),
            "income": RNG.lognormal(10, 0.5, rows),
            "rare": np.where(RNG.random(rows) < 0.0005, 1.0, 0.0),  # almost always 0
            "city": cities,
        }
    )


FEATURES = ["age", "income", "rare", "city"]


@pytest.mark.parametrize("rows", [300, 20_000])
def test_same_distribution_no_drift(rows: int) -> None:
    baseline = profile(_table(_frame(30_000)))
    result = compare(baseline, _table(_frame(rows)), FEATURES, 0.2)
    assert result.drifted == [] and result.drift_share == 0 and not result.has_drift
    methods = {f.name: f.method for f in result.features}
    small = rows <= 1000
    assert methods == {
        "age": "ks" if small else "wasserstein",
        "income": "ks" if small else "wasserstein",
        "rare": "ks" if small else "wasserstein",
        "city": "chi2" if small else "jensenshannon",
    }


@pytest.mark.parametrize("rows", [300, 20_000])
def test_shifted_features_drift_and_only_those(rows: int) -> None:
    baseline = profile(_table(_frame(30_000)))
    result = compare(baseline, _table(_frame(rows, shift=8, flip=0.4)), FEATURES, 0.2)
    assert sorted(result.drifted) == ["age", "city"]
    assert result.drift_share == 0.5 and result.has_drift
    age = next(f for f in result.features if f.name == "age")
    assert age.psi is not None and age.psi > 0.1
    assert age.target["mean"] == pytest.approx(48, abs=2.5)
    assert age.baseline["mean"] == pytest.approx(40, abs=0.5)


def test_threshold_decides_the_overall_verdict() -> None:
    baseline = profile(_table(_frame(5000)))
    target = _table(_frame(5000, shift=8))
    assert compare(baseline, target, FEATURES, 0.2).has_drift  # 1 of 4
    assert not compare(baseline, target, FEATURES, 0.3).has_drift


def test_missing_values_are_left_out(tmp_path: Path) -> None:
    frame = _frame(5000)
    frame.loc[::3, "age"] = np.nan
    result = compare(profile(_table(_frame(5000))), _table(frame), ["age"], 0.2)
    age = result.features[0]
    assert age.target["count"] == 5000 - len(frame.index[::3]) and not age.drifted


def test_fast_reader_equals_pandas(tmp_path: Path) -> None:
    frame = pd.DataFrame(RNG.normal(size=(3000, 20)).round(6), columns=[f"f{i}" for i in range(20)])
    frame["$aml_dc_scoring_timestamp"] = pd.date_range("2024-05-01", periods=3000, freq="min").strftime(
        "%Y-%m-%dT%H:%M:%S.%f"
    )
    frame["$aml_service_name"] = "svc"
    frame["label"] = np.where(RNG.random(3000) < 0.5, "a", "b")
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    fast = read_csv(path)
    assert fast.numeric_names == [f"f{i}" for i in range(20)]
    assert np.allclose(fast.numeric, frame[fast.numeric_names].to_numpy(np.float32))
    assert list(fast.other) == ["label"] and fast.other["label"].tolist() == frame["label"].tolist()
    assert fast.times is not None and str(fast.times[2]) == "2024-05-01T00:02:00.000000"
    # The same file with an empty cell and quoted text: not the fast path's, read by pandas alike.
    frame.loc[5, "f3"] = np.nan
    frame.loc[7, "label"] = 'say "hi", then go'
    frame.to_csv(path, index=False)
    slow = read_csv(path)
    assert np.isnan(slow.numeric[5, 3]) and slow.other["label"][7] == 'say "hi", then go'
    assert np.allclose(
        np.nan_to_num(slow.numeric), np.nan_to_num(frame[slow.numeric_names].to_numpy(np.float32))
    )


def test_what_the_collector_writes_takes_the_fast_path(collecting) -> None:  # type: ignore[no-untyped-def]
    """The collector's own columns after the features mix text and numbers ($aml_dc_boundary,
    $aml_model_version): the fast reader takes such a file (it fell back to pandas, ~3x slower)
    and reads what pandas reads."""
    from modelport.monitoring import ModelDataCollector
    from modelport.monitoring.collection import writer
    from modelport.monitoring.drift.table import _fast_csv
    from tests.monitoring.conftest import service_files

    x = RNG.random((500, 30)).round(4)
    dc = ModelDataCollector("mnist", designation="inputs", feature_names=[f"p{i}" for i in range(30)])
    for start in range(0, 500, 50):
        dc.collect(x[start : start + 50])
    writer.shutdown()
    [path] = service_files(collecting, "inputs")
    assert "$aml_dc_boundary" in path.read_text().splitlines()[0]
    fast = _fast_csv(path)
    assert fast is not None
    assert fast.numeric_names == [f"p{i}" for i in range(30)] and fast.other == {}
    assert np.allclose(fast.numeric, x.astype(np.float32))
    slow = Table.from_frame(pd.read_csv(path))
    assert slow.numeric_names == fast.numeric_names and np.array_equal(slow.numeric, fast.numeric)
    assert slow.times is not None and fast.times is not None and np.array_equal(slow.times, fast.times)


# -- the detector -------------------------------------------------------------------------------------
@pytest.fixture
def v1ws(ws):  # type: ignore[no-untyped-def]
    from modelport.core.workspace import Workspace

    return Workspace(ws.name, ws.path)


def _register(v1ws, frame: pd.DataFrame, name: str):  # type: ignore[no-untyped-def]
    from modelport.core import Dataset

    datastore = v1ws.get_default_datastore()
    return Dataset.Tabular.register_pandas_dataframe(frame, (datastore, name), name, show_progress=False)


def _collected(v1ws, days: dict[datetime.date, pd.DataFrame]):  # type: ignore[no-untyped-def]
    """Rows laid out as a service collects them, one file per day, as a v1 dataset."""
    from modelport.core import Dataset
    from modelport.monitoring.drift.detector import model_data_root, workspace_id

    root = model_data_root(v1ws)
    for day, frame in days.items():
        folder = root / workspace_id(v1ws) / "svc" / "m" / "1" / "inputs" / f"{day:%Y/%m/%d}"
        folder.mkdir(parents=True)
        out = frame.copy()
        out["$aml_dc_scoring_timestamp"] = f"{day.isoformat()}T12:00:00.000001"
        out["$aml_service_name"] = "svc"
        out.to_csv(folder / "data.csv", index=False)
    datastore = v1ws.get_default_datastore()
    return Dataset.Tabular.from_delimited_files(
        datastore.path(f"modeldata/{workspace_id(v1ws)}/svc/m/1/inputs/**/data.csv")
    )


def test_columns_that_differ_are_refused_in_one_line(v1ws) -> None:  # type: ignore[no-untyped-def]
    from modelport.datadrift import DataDriftDetector

    baseline = _register(v1ws, _frame(100), "train")
    target = _register(v1ws, _frame(100).rename(columns={"age": "years"}).drop(columns=["rare"]), "new")
    with pytest.raises(InvalidInputError) as caught:
        DataDriftDetector.create_from_datasets(v1ws, "d1", baseline, target)
    message = str(caught.value)
    assert "\n" not in message
    assert "only in the baseline: age, rare" in message and "only in the target: years" in message
    # Naming columns both have is enough.
    detector = DataDriftDetector.create_from_datasets(
        v1ws, "d1", baseline, target, feature_list=["income", "city"]
    )
    assert detector.feature_list == ["income", "city"]


def test_detector_over_collected_days(v1ws) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    from modelport.datadrift import DataDriftDetector
    from modelport.monitoring.drift import store

    baseline = _register(v1ws, _frame(20_000), "train")
    d1, d2, d3 = (datetime.date(2024, 5, d) for d in (1, 2, 3))
    target = _collected(v1ws, {d1: _frame(2000), d2: _frame(2000, shift=8, flip=0.4), d3: _frame(2000)})
    detector = DataDriftDetector.create_from_datasets(
        v1ws, "svc-drift", baseline_dataset=baseline, target_dataset=target, frequency="Day"
    )
    assert detector.services == ["svc"]  # read from the target's modeldata path
    with pytest.raises(Exception, match="already exists"):
        DataDriftDetector.create_from_datasets(v1ws, "svc-drift", baseline, target)
    run = detector.backfill(datetime.datetime(2024, 5, 1), datetime.datetime(2024, 5, 4))
    assert run.get_status() == "Completed"
    assert run.get_metrics()["drift_share"] == [0.0, 0.5, 0.0]
    again = DataDriftDetector.get_by_name(v1ws, "svc-drift")
    results, metrics = again.get_output(
        start_time=datetime.datetime(2024, 5, 1), end_time=datetime.datetime(2024, 5, 3)
    )
    [group] = results
    assert [r["has_drift"] for r in group["result"]] == [False, True, False]
    assert [r["start_date"] for r in group["result"]] == ["2024-05-01", "2024-05-02", "2024-05-03"]
    [mgroup] = metrics
    day2 = mgroup["metrics"][1]
    assert {"name": "drift_share", "value": 0.5} in day2["dataset_metrics"]
    age = next(c["age"] for c in day2["column_metrics"] if "age" in c)
    assert {"name": "drifted", "value": True} in age
    # run() one day again: the same window's result is replaced, not added.
    single = detector.run(datetime.datetime(2024, 5, 2, 15))
    assert single.get_metrics()["drift_share"] == 0.5
    assert len(list(store.results(v1ws.path, "svc-drift"))) == 3
    latest = store.latest_for_service(v1ws.path, "svc")
    assert latest[0]["start_date"] == "2024-05-03" and latest[0]["detector"] == "svc-drift"
    assert Path(latest[0]["report"]).read_text().startswith("<!doctype html>")
    figs = detector.show(datetime.datetime(2024, 5, 1), datetime.datetime(2024, 5, 3))
    assert len(figs) == 2 and all(hasattr(f, "savefig") for f in figs.values())
    with pytest.raises(NotSupported, match="runs no schedules"):
        detector.enable_schedule()
    with pytest.raises(NotSupported, match="e-mail alerts"):
        detector.update(alert_config=object())


def test_model_based_detector_reads_what_services_collected(v1ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from modelport.core.model import Model
    from modelport.datadrift import DataDriftDetector

    train = _register(v1ws, _frame(10_000), "train")
    (tmp_path / "model.pkl").write_bytes(b"model")
    Model.register(v1ws, tmp_path / "model.pkl", "m", datasets=[("training", train)])
    _collected(v1ws, {datetime.date(2024, 5, 2): _frame(3000, shift=8)})
    detector = DataDriftDetector.create_from_model(v1ws, "m", 1, ["svc"], frequency="Week")
    assert DataDriftDetector.get(v1ws, "m", 1).name == detector.name
    detector.run(datetime.date(2024, 5, 1))
    results, _metrics = detector.get_output(start_time=datetime.datetime(2024, 4, 30))
    assert results[0]["service_name"] == "svc"
    assert results[0]["result"][0]["has_drift"] is True
    with pytest.raises(Exception, match="no training dataset"):
        Model.register(v1ws, tmp_path / "model.pkl", "bare")
        DataDriftDetector.create_from_model(v1ws, "bare", 1, ["svc"])
