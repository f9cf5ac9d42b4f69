"""v1's ModelDataCollector: its columns, shapes, request ids, and the writer behind it."""

from __future__ import annotations

import csv
import datetime
import errno
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelport.monitoring import ModelDataCollector
from modelport.monitoring.collection import config, writer
from modelport.runtime.context import NO_REQUEST, request_ids
from tests.monitoring.conftest import service_files

PIXELS = [f"pixel{i}" for i in range(4)]
CORRELATION = [
    "$aml_dc_correlation_id",
    "$aml_dc_scoring_timestamp",
    "$aml_dc_boundary",
    "$aml_workspace",
    "$aml_service_name",
    "$aml_model_name",
    "$aml_model_version",
    "$aml_request_id",
]


def _flush() -> None:
    current = writer.current_writer()
    assert current is not None and current.flush(30)


def _read(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_off_outside_a_collecting_service(capsys: pytest.CaptureFixture[str]) -> None:
    config.configure(None)
    dc = ModelDataCollector("mnist", designation="inputs", feature_names=PIXELS)
    assert "not enabled" in capsys.readouterr().out
    assert not dc.enabled
    assert dc.collect(np.zeros((1, 4))) is None
    assert writer.current_writer() is None


def test_inputs_get_v1s_columns_and_the_request_id(collecting: config.CollectionConfig) -> None:
    dc = ModelDataCollector("mnist", designation="inputs", feature_names=PIXELS)
    token = request_ids.set(("req-42",))
    try:
        corr = dc.collect(np.arange(8, dtype=np.float64).reshape(2, 4) / 3, user_correlation_id="loan7")
    finally:
        request_ids.reset(token)
    assert corr is not None and set(corr) == set(CORRELATION)
    assert corr["$aml_request_id"] == "req-42"
    assert corr["$aml_dc_correlation_id"].startswith("loan7-")
    assert corr["$aml_model_version"] == "3"  # 'default': the version the service serves
    assert corr["$aml_workspace"] == "sub/rg/ws" and corr["$aml_service_name"] == "svc"
    assert corr["$aml_dc_boundary"] == 1440
    _flush()
    [path] = service_files(collecting, "inputs")
    today = datetime.datetime.now(datetime.UTC).date()
    assert path.relative_to(collecting.root).as_posix() == (
        f"sub/rg/ws/svc/mnist/3/inputs/{today:%Y/%m/%d}/data.csv"
    )
    rows = _read(path)
    assert rows[0] == PIXELS + CORRELATION
    assert len(rows) == 3
    assert [float(v) for v in rows[1][:4]] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert rows[1][4:] == [str(corr[h]) for h in CORRELATION]
    assert rows[2][4:] == rows[1][4:]  # one collect() call: one set of correlations


def test_outside_a_request_the_request_id_is_v1s_zero_id(collecting: config.CollectionConfig) -> None:
    corr = ModelDataCollector("mnist", designation="inputs").collect([1, 2, 3])
    assert corr is not None and corr["$aml_request_id"] == NO_REQUEST


def test_a_batch_serves_several_requests(collecting: config.CollectionConfig) -> None:
    token = request_ids.set(("a", "b"))
    try:
        corr = ModelDataCollector("mnist", designation="inputs").collect(np.zeros((2, 2)))
    finally:
        request_ids.reset(token)
    assert corr is not None and corr["$aml_request_id"] == "a b"


def test_shapes_lists_arrays_frames(collecting: config.CollectionConfig) -> None:
    dc = ModelDataCollector("mnist", designation="general")  # v1: 'general' files by collection name
    dc.collect([1, 2.5, "x"])  # a list: one row
    dc.collect(np.array([3, 4, 5]))  # 1-D: one row
    dc.collect([[6, 7, 8], [9, 10, 11]])  # equal-length lists: rows
    dc.collect(pd.DataFrame({"a": [12, 13], "b": [1.5, 2.5], "c": ["p", "q"]}))
    _flush()
    [path] = service_files(collecting, "general")
    assert path.name == "default.csv"
    rows = _read(path)
    assert rows[0] == ["0", "1", "2"]  # no feature names: pandas' names for an array's columns
    assert rows[1:] == [
        ["1", "2.5", "x"],
        ["3", "4", "5"],
        ["6", "7", "8"],
        ["9", "10", "11"],
        ["12", "1.5", "p"],
        ["13", "2.5", "q"],
    ]


def test_a_frame_names_its_columns(collecting: config.CollectionConfig) -> None:
    dc = ModelDataCollector("mnist", designation="inputs")
    dc.collect(pd.DataFrame({"age": [30, 40], "city": ["Lyon", "Oslo, NO"]}))
    _flush()
    frame = pd.read_csv(service_files(collecting, "inputs")[0])
    assert list(frame.columns) == ["age", "city", *CORRELATION]
    assert frame["city"].tolist() == ["Lyon", "Oslo, NO"]


def test_predictions_joined_to_inputs_with_add_correlations(collecting: config.CollectionConfig) -> None:
    inputs = ModelDataCollector("mnist", designation="inputs", feature_names=PIXELS)
    predictions = ModelDataCollector("mnist", designation="predictions", feature_names=["prediction"])
    corr = inputs.collect(np.ones((1, 4)))
    augmented = predictions.add_correlations(np.array([7]), corr)
    assert augmented.shape == (1, 9)
    assert predictions.collect(augmented) is None  # v1: only 'inputs' returns correlations
    _flush()
    frame = pd.read_csv(service_files(collecting, "predictions")[0])
    assert list(frame.columns) == ["prediction", *CORRELATION]
    assert frame["prediction"].tolist() == [7]
    assert frame["$aml_dc_correlation_id"][0] == corr["$aml_dc_correlation_id"]


def test_values_that_are_not_a_table_go_in_as_json(
    collecting: config.CollectionConfig, caplog: pytest.LogCaptureFixture
) -> None:
    dc = ModelDataCollector("mnist", designation="inputs", feature_names=["a", "b"])
    with caplog.at_level(logging.WARNING, "modelport.monitoring"):
        dc.collect({"nested": {"x": [1, 2]}})
        dc.collect([[1, 2], [3]])  # mixed widths
        dc.collect([1, 2, 3])  # not the file's width
        dc.collect(np.zeros((2, 2, 2)))
        dc.collect([5, 6])
        _flush()
    frame = pd.read_csv(service_files(collecting, "inputs")[0])
    assert frame.shape == (6, 10)
    assert frame["a"].tolist()[:5] == [
        '{"nested":{"x":[1,2]}}',
        "[[1,2],[3]]",
        "[1,2,3]",
        "[[0.0,0.0],[0.0,0.0]]",
        "[[0.0,0.0],[0.0,0.0]]",
    ]
    assert frame["b"].isna().sum() == 5 and frame.iloc[5][["a", "b"]].tolist() == ["5", 6.0]
    assert "written as JSON in the first column" in caplog.text
    assert writer.current_writer().stats.as_json == 5  # type: ignore[union-attr]


def test_the_script_may_change_its_data_after_collect(collecting: config.CollectionConfig) -> None:
    data = np.ones((1, 2))
    ModelDataCollector("mnist", designation="inputs").collect(data)
    data[:] = 9
    _flush()
    frame = pd.read_csv(service_files(collecting, "inputs")[0])
    assert frame[["0", "1"]].values.tolist() == [[1.0, 1.0]]


def test_nan_and_infinity_survive(collecting: config.CollectionConfig) -> None:
    ModelDataCollector("mnist", designation="inputs").collect(np.array([[np.nan, np.inf, 1.0]]))
    _flush()
    frame = pd.read_csv(service_files(collecting, "inputs")[0])
    assert np.isnan(frame["0"][0]) and frame["1"][0] == np.inf and frame["2"][0] == 1.0


def test_a_wrong_designation_collects_nothing_as_in_v1(
    collecting: config.CollectionConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    dc = ModelDataCollector("mnist", designation="outputs")
    assert "Incorrect designation value" in capsys.readouterr().out
    assert dc.collect([1]) is None
    assert not dc.enabled


def test_a_model_name_that_would_leave_its_folder_is_refused(collecting: config.CollectionConfig) -> None:
    from modelport.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="cannot name a folder"):
        ModelDataCollector("../etc", designation="inputs")


def test_a_full_buffer_drops_and_counts_never_waits(tmp_path: Path) -> None:
    settings = config.CollectionConfig(
        root=tmp_path / "modeldata", workspace="s/r/w", service="svc", flush_interval_s=60, buffer_mb=0.01
    )
    dropped: list[tuple[str, str, int]] = []
    config.configure(settings, config.Hooks(dropped=lambda d, r, n: dropped.append((d, r, n))))
    try:
        dc = ModelDataCollector("m", designation="inputs")
        row = np.zeros((1, 100))  # ~900 bytes kept: the 10 KB buffer holds ~11 of them
        started = time.perf_counter()
        for _ in range(200):
            dc.collect(row)
        took = time.perf_counter() - started
        stats = writer.current_writer().stats  # type: ignore[union-attr]
        assert stats.dropped[("inputs", "buffer_full")] > 150
        assert sum(n for _, r, n in dropped if r == "buffer_full") == stats.dropped[("inputs", "buffer_full")]
        assert took < 5  # 200 calls, none of them waiting for the writer (interval: 60 s)
        assert writer.current_writer().flush(30)  # type: ignore[union-attr]
        written = stats.written["inputs"]
        assert written + stats.dropped[("inputs", "buffer_full")] == 200
    finally:
        writer.shutdown()
        config.configure(None)


def test_closing_flushes_and_later_rows_are_counted(collecting: config.CollectionConfig) -> None:
    dc = ModelDataCollector("mnist", designation="inputs")
    dc.collect([1, 2])
    current = writer.current_writer()
    assert current is not None and current.close(30)
    assert len(_read(service_files(collecting, "inputs")[0])) == 2  # header + the row
    dc.collect([3, 4])
    assert current.stats.dropped[("inputs", "stopped")] == 1


def test_a_full_disk_stops_collection_not_the_caller(
    collecting: config.CollectionConfig, caplog: pytest.LogCaptureFixture
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is missing")
    dc = ModelDataCollector("mnist", designation="inputs")
    dc.collect([1, 2])
    _flush()
    [path] = service_files(collecting, "inputs")
    current = writer.current_writer()
    assert current is not None
    # The open data file now writes to a device that is always full: every write() fails with
    # ENOSPC from the kernel, as on a full disk.
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, current._files[path].fd)
    os.close(full)
    with caplog.at_level(logging.ERROR, "modelport.monitoring"):
        assert dc.collect([3, 4]) is not None
        _flush()
        dc.collect([5, 6])  # paused: dropped at once
    assert current.stats.dropped[("inputs", "disk_full")] == 2
    assert "model data collection stopped" in caplog.text
    assert os.strerror(errno.ENOSPC) in caplog.text
    assert len(_read(path)) == 2  # the header and the first row, nothing half-written
