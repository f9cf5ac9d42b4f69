"""Where collected rows land: readable as a v1 dataset, shared by processes, kept within bounds."""

from __future__ import annotations

import datetime
import multiprocessing
from pathlib import Path

import numpy as np
import pandas as pd

from modelport.monitoring.collection import config, layout, retention, writer


def _collect_in_child(root: str, worker: int, rows: int) -> None:
    from modelport.monitoring import ModelDataCollector

    config.configure(
        config.CollectionConfig(root=Path(root), workspace="s/r/w", service="svc", flush_interval_s=0.05)
    )
    dc = ModelDataCollector("m", designation="inputs", feature_names=["worker", "i", "x"])
    for i in range(rows):
        dc.collect(np.array([[worker, i, i * 0.5]]))
    writer.shutdown(60)


def test_workers_share_a_file_without_mixing_lines(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_collect_in_child, args=(str(tmp_path), w, 3000)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    [path] = list(tmp_path.rglob("data.csv"))
    frame = pd.read_csv(path)
    assert len(frame) == 9000
    assert list(frame.columns[:3]) == ["worker", "i", "x"]
    for w in range(3):
        mine = frame[frame["worker"] == w]
        assert sorted(mine["i"]) == list(range(3000))
        assert (mine["x"] == mine["i"] * 0.5).all()


def test_collected_rows_read_back_as_a_v1_dataset(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from modelport.core import Dataset
    from modelport.core.workspace import Workspace
    from modelport.monitoring import ModelDataCollector
    from modelport.monitoring.drift.detector import model_data_root, workspace_id

    v1ws = Workspace(ws.name, ws.path)
    config.configure(
        config.CollectionConfig(root=model_data_root(v1ws), workspace=workspace_id(v1ws), service="svc")
    )
    try:
        ModelDataCollector("m", designation="inputs", feature_names=["a", "b"]).collect(
            np.array([[1, 2], [3, 4]])
        )
        assert writer.current_writer().flush(30)  # type: ignore[union-attr]
    finally:
        writer.shutdown()
        config.configure(None)
    datastore = v1ws.get_default_datastore()
    wsid = workspace_id(v1ws)
    ds = Dataset.Tabular.from_delimited_files(
        datastore.path(f"modeldata/{wsid}/svc/m/default/inputs/**/data.csv")
    )
    frame = ds.to_pandas_dataframe()
    assert frame[["a", "b"]].values.tolist() == [[1, 2], [3, 4]]
    assert frame["$aml_service_name"].tolist() == ["svc", "svc"]


def _day_file(service: Path, day: datetime.date, size: int) -> Path:
    path = service / "m" / "1" / "inputs" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / "data.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def test_retention_deletes_old_days_then_the_oldest_until_under_the_size(tmp_path: Path) -> None:
    service = tmp_path / "svc"
    today = datetime.date(2024, 6, 30)
    files = {d: _day_file(service, today - datetime.timedelta(days=d), 1000) for d in (0, 1, 2, 3, 40)}
    result = retention.prune(service, retention_days=30, max_bytes=10_000, today=today)
    assert not files[40].exists() and all(files[d].exists() for d in (0, 1, 2, 3))
    assert result.total_bytes == 4000
    result = retention.prune(service, retention_days=30, max_bytes=2500, today=today)
    assert [d for d in (0, 1, 2, 3) if files[d].exists()] == [0, 1]
    assert result.total_bytes == 2000
    result = retention.prune(service, retention_days=30, max_bytes=10, today=today)
    assert files[0].exists() and not files[1].exists()  # today's file is never deleted
    assert not (service / "m" / "1" / "inputs" / "2024" / "05").exists()  # empty folders go too


def test_rows_past_the_size_limit_are_dropped_and_counted(tmp_path: Path) -> None:
    from modelport.monitoring import ModelDataCollector

    settings = config.CollectionConfig(
        root=tmp_path / "modeldata", workspace="s/r/w", service="svc", flush_interval_s=0.05, max_mb=0.01
    )
    config.configure(settings)
    try:
        dc = ModelDataCollector("m", designation="inputs")
        for _ in range(60):
            dc.collect(np.zeros((10, 10)))  # ~200 bytes a row: the 10 KB limit takes ~50 rows
            assert writer.current_writer().flush(30)  # type: ignore[union-attr]
        stats = writer.current_writer().stats  # type: ignore[union-attr]
        assert stats.dropped[("inputs", "retention")] > 0
        folder = layout.service_folder(settings.root, "s/r/w", "svc")
        assert retention.folder_size(folder) <= 0.01 * 2**20
    finally:
        writer.shutdown()
        config.configure(None)
