"""The batch runner with real processes: rows as v1 writes them, retries, timeouts, a killed
worker, v1's thresholds, summary_only, tabular and partitioned inputs, v1's log layout."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from modelport.jobs.batch import BatchInput
from modelport.jobs.batch.layout import RunFolder
from modelport.jobs.batch.progress import snapshot
from tests.jobs.conftest import output_lines

pytestmark = pytest.mark.process


def test_rows_logs_and_worker_contract(ws: Any, files: Any, make_spec: Any, run_batch: Any) -> None:
    paths = files(*["ok"] * 7)
    spec = make_spec(paths, arguments=("--tag", "T1"), mini_batch_size=3)
    record = run_batch(spec)
    assert record.status == "Completed", record.error
    assert sorted(output_lines(spec)) == [f"f{i:03d}.txt ok T1" for i in range(7)]
    folder = RunFolder.of(ws, record.id)
    assert folder.job_result.read_text().startswith("Completed: 3 of 3 mini-batches")
    assert len(folder.progress_overviews()) == 1
    assert "Planned 3 mini-batches" in folder.master_role.read_text()
    node_lines = "".join(
        p.read_text() for p in (folder.logs / "sys" / "node" / "node000").glob("process*.txt")
    )
    assert node_lines.count("items 3 succeeded 3 failed 0") + node_lines.count("items 1 succeeded 1") == 3
    stdout = "".join(
        p.read_text() for p in (folder.logs / "user" / "stdout" / "node000").glob("*.stdout.txt")
    )
    assert f"output_dir={spec.output_dir}" in stdout  # AZUREML_BI_OUTPUT_PATH
    log = "".join(
        p.read_text() for p in (folder.logs / "user" / "entry_script_log" / "node000").glob("*.log.txt")
    )
    assert "init() in process00" in log  # EntryScript().logger and agent_name
    from modelport.registry import runs

    names = [f.path for f in runs.files(ws, record.id)]
    assert "logs/job_result.txt" in names and "azureml-logs/70_driver_log.txt" in names


def test_a_try_that_raises_is_retried_and_rows_appear_once(
    files: Any, make_spec: Any, run_batch: Any
) -> None:
    spec = make_spec(files("ok", "raise-once", "ok", "ok"), run_max_try=2)
    record = run_batch(spec)
    assert record.status == "Completed", record.error
    assert sorted(output_lines(spec)) == [
        f"f{i:03d}.txt {w} none" for i, w in enumerate(["ok", "raise-once", "ok", "ok"])
    ]
    folder = RunFolder.of(_ws(record), record.id)
    errors = folder.user_error.read_text()
    assert "transient failure on f001.txt" in errors and "try 1" in errors


def _ws(record: Any) -> Any:
    """The workspace of the ``ws`` fixture (each test has its own MODELPORT_HOME)."""
    from modelport.workspace import Workspace

    return Workspace.get("testws")


def test_timeout_kills_and_replaces_the_worker(files: Any, make_spec: Any, run_batch: Any) -> None:
    spec = make_spec(files("ok", "hang-once", "ok"), mini_batch_size=1, run_invocation_timeout=2)
    record = run_batch(spec)
    assert record.status == "Completed", record.error
    assert sorted(output_lines(spec)) == ["f000.txt ok none", "f001.txt hang-once none", "f002.txt ok none"]
    master = RunFolder.of(_ws(record), record.id).master_role.read_text()
    assert "run_invocation_timeout=2" in master


def test_a_killed_worker_is_replaced_and_its_mini_batch_retried(
    files: Any, make_spec: Any, run_batch: Any
) -> None:
    spec = make_spec(files("ok", "ok", "kill-once", "ok", "ok"), mini_batch_size=1)
    record = run_batch(spec)
    assert record.status == "Completed", record.error
    assert len(output_lines(spec)) == 5 and len(set(output_lines(spec))) == 5
    master = RunFolder.of(_ws(record), record.id).master_role.read_text()
    assert "was killed by SIGKILL" in master


def test_error_threshold_under_and_over(files: Any, make_spec: Any, run_batch: Any) -> None:
    words = ["ok", "skip", "ok", "skip", "ok", "ok"]
    spec = make_spec(files(*words), error_threshold=2)
    record = run_batch(spec)
    assert record.status == "Completed", record.error  # 2 missing rows = 2 failed items, not more than 2
    assert len(output_lines(spec)) == 4
    p = snapshot(_ws(record), record.id)
    assert p.failed_items == 2 and p.done_items == 6
    over = make_spec(files(*words, folder="again"), error_threshold=1, output_dir=spec.output_dir + "2")
    record = run_batch(over, experiment="over")
    assert record.status == "Failed"
    assert "error_threshold=1" in record.error and "First error" in record.error
    result = RunFolder.of(_ws(record), record.id).job_result.read_text()
    assert result.startswith("Failed: 2 failed items is more than error_threshold=1")


def test_failed_mini_batches_and_allowed_failed_count(files: Any, make_spec: Any, run_batch: Any) -> None:
    words = ["ok", "raise", "ok", "raise", "ok", "ok"]
    spec = make_spec(files(*words), mini_batch_size=1, run_max_try=2, allowed_failed_count=2)
    record = run_batch(spec)
    assert record.status == "Completed", record.error
    assert sorted(output_lines(spec)) == [
        "f000.txt ok none",
        "f002.txt ok none",
        "f004.txt ok none",
        "f005.txt ok none",
    ]
    p = snapshot(_ws(record), record.id)
    assert (p.failed_batches, p.failed_items) == (2, 2)
    over = make_spec(
        files(*words, folder="b"),
        mini_batch_size=1,
        run_max_try=1,
        allowed_failed_count=1,
        output_dir=spec.output_dir + "b",
    )
    record = run_batch(over, experiment="over")
    assert record.status == "Failed" and "allowed_failed_count=1" in record.error
    assert "ValueError: bad item f00" in record.error  # the first cause names the script's error
    pct = make_spec(
        files(*words, folder="c"),
        mini_batch_size=1,
        run_max_try=1,
        allowed_failed_percent=30,
        output_dir=spec.output_dir + "c",
    )
    record = run_batch(pct, experiment="pct")
    assert record.status == "Failed" and "allowed_failed_percent=30" in record.error  # 2 of 6 = 33%


def test_summary_only_counts_without_an_output_file(files: Any, make_spec: Any, run_batch: Any) -> None:
    spec = make_spec(files("ok", "skip", "ok"), output_action="summary_only", error_threshold=5)
    record = run_batch(spec)
    assert record.status == "Completed", record.error
    assert not Path(spec.output_file).exists()
    p = snapshot(_ws(record), record.id)
    assert (p.done_items, p.failed_items) == (3, 1)


def test_init_that_raises_fails_the_run_with_its_error(
    tmp_path: Path, files: Any, make_spec: Any, run_batch: Any
) -> None:
    src = tmp_path / "bad"
    src.mkdir()
    (src / "score.py").write_text(
        "def init():\n    raise RuntimeError('no model here')\n\ndef run(mb):\n    return mb\n"
    )
    spec = make_spec(files("ok", "ok"), script="score.py", process_count_per_node=1)
    spec = spec.__class__(**{**spec.__dict__, "source_directory": str(src)})
    record = run_batch(spec)
    assert record.status == "Failed"
    assert "init() failed 3 times" in record.error and "RuntimeError: no model here" in record.error


def _oj(tmp_path: Path) -> BatchInput:
    """Two partitions (Store=1000, Store=1001) of a small table, written as partition_by does."""
    paths, values = [], []
    for store in ("1000", "1001"):
        p = tmp_path / "oj" / f"Store={store}" / "part.csv"
        p.parent.mkdir(parents=True)
        p.write_text(
            "Week,Quantity,Large HH\n" + "".join(f"w{i},{i},{'a b' if i == 1 else 'x'}\n" for i in range(3))
        )
        paths.append(str(p))
        values.append({"Store": store})
    return BatchInput("oj", "tabular", tuple(paths), {"format": "csv", "header": True}, tuple(values))


def test_tabular_rows_space_separated_partition_columns_last(
    tmp_path: Path, make_spec: Any, run_batch: Any
) -> None:
    pytest.importorskip("pandas")
    spec = make_spec(
        (), script="frames.py", inputs=(_oj(tmp_path),), partition_keys=("Store",), process_count_per_node=1
    )
    record = run_batch(spec)
    assert record.status == "Completed", record.error
    lines = sorted(output_lines(spec))
    # the file's columns, then the partition column, then what run() added
    assert lines[0] == "w0 0 x 1000 3 1000"
    assert 'w1 1 "a b" 1001 3 1001' in lines and len(lines) == 6


def test_partitioned_table_with_a_one_argument_run(tmp_path: Path, make_spec: Any, run_batch: Any) -> None:
    pytest.importorskip("pandas")
    spec = make_spec(
        (), script="total.py", inputs=(_oj(tmp_path),), partition_keys=("Store",), process_count_per_node=1
    )
    record = run_batch(spec)
    assert record.status == "Completed", record.error
    assert sorted(output_lines(spec))[:3] == ["w0 0 x 1000 3", "w0 0 x 1001 3", 'w1 1 "a b" 1000 3']


def test_tabular_by_size_never_loses_a_row(tmp_path: Path, make_spec: Any, run_batch: Any) -> None:
    pytest.importorskip("pandas")
    p = tmp_path / "big.csv"
    p.write_text("x,y\n" + "".join(f"{i},{i * 2}\n" for i in range(500)))
    j = tmp_path / "more.jsonl"
    j.write_text("".join(f'{{"x": {i}, "y": {i * 2}}}\n' for i in range(500, 600)))
    inputs = (
        BatchInput("big", "tabular", (str(p),), {"format": "csv", "header": True}),
        BatchInput("more", "tabular", (str(j),), {"format": "jsonl"}),
    )
    spec = make_spec((), script="frames.py", inputs=inputs, mini_batch_size=1024, process_count_per_node=1)
    record = run_batch(spec)
    assert record.status == "Completed", record.error
    xs = sorted(int(line.split()[0]) for line in output_lines(spec))
    assert xs == list(range(600))
    assert snapshot(_ws(record), record.id).mini_batches > 3


def test_partitioned_files_get_the_context(tmp_path: Path, make_spec: Any, run_batch: Any) -> None:
    paths, values = [], []
    for user, n in (("u1", 3), ("u2", 2)):
        for i in range(n):
            p = tmp_path / "audio" / user / f"{i}.wav"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("x")
            paths.append(str(p))
            values.append({"user": user})
    inp = BatchInput("audio", "files", tuple(paths), partition_values=tuple(values))
    spec = make_spec((), script="partitions.py", inputs=(inp,), partition_keys=("user",), mini_batch_size=1)
    record = run_batch(spec)
    assert record.status == "Completed", record.error
    assert sorted(output_lines(spec)) == [
        "0.wav,u1,3",
        "0.wav,u2,2",
        "1.wav,u1,3",
        "1.wav,u2,2",
        "2.wav,u1,3",
    ]


def test_submit_refuses_bad_specs_before_any_process(ws: Any, files: Any, make_spec: Any) -> None:
    from modelport.errors import InvalidInputError
    from modelport.jobs import batch
    from modelport.registry import runs

    spec = make_spec(files("ok"))
    bad = spec.__class__(**{**spec.__dict__, "mini_batch_size": 0})
    with pytest.raises(InvalidInputError, match="mini_batch_size must be a whole number >= 1"):
        batch.submit(ws, "exp", bad)
    assert runs.experiments(ws) == [] or runs.list_runs(ws, "exp") == []
    assert sys.executable  # this interpreter ran the workers above


def test_progress_as_a_bar_and_as_log_lines(ws: Any, files: Any, make_spec: Any, run_batch: Any) -> None:
    import io

    from modelport.jobs.batch.progress import ProgressView, follow

    spec = make_spec(files("ok", "skip", "ok", "ok"), error_threshold=3)
    record = run_batch(spec)
    bar = io.StringIO()
    view = ProgressView(ws, record.id, file=bar, bar=True)
    view.update()
    view.close()
    assert "4/4" in bar.getvalue() and "failed=1" in bar.getvalue() and "item" in bar.getvalue()
    lines = io.StringIO()
    assert follow(ws, record.id, file=lines, bar=False).status == "Completed"
    assert lines.getvalue().splitlines() == [f"{record.id}: 100% (4/4 items, 0.0 items/s, 1 failed)"]
    assert "\r" not in lines.getvalue()


def test_two_runs_never_write_one_output_file(ws: Any, files: Any, make_spec: Any, run_batch: Any) -> None:
    from modelport.jobs import batch
    from tests.jobs.conftest import wait_final

    slow = make_spec(files(*["slow"] * 40), mini_batch_size=1, process_count_per_node=1)
    first = batch.submit(ws, "one", slow)
    deadline = time.monotonic() + 60
    while not Path(slow.output_file).is_file() or not Path(slow.output_file).read_text():
        assert time.monotonic() < deadline, "the first run wrote nothing"
        time.sleep(0.02)
    other = make_spec(files("ok", "ok", folder="other"))  # other work, the same output file
    record = run_batch(other, experiment="two")
    assert record.status == "Failed" and "is being written by another batch run" in record.error
    assert wait_final(ws, first.id).status == "Completed"
    assert len(output_lines(slow)) == 40


def test_a_hanging_run_is_blamed_not_the_mini_batches_before_it(
    ws: Any, files: Any, make_spec: Any, run_batch: Any
) -> None:
    # Quick mini-batches ahead of a hanging one: their results (sent in a bunch) reach the
    # supervisor before the timeout, which then charges the one that hangs.
    spec = make_spec(
        files("ok", "ok", "ok", "ok", "hang-once"),
        mini_batch_size=1,
        process_count_per_node=1,
        run_invocation_timeout=2,
        run_max_try=1,
    )
    record = run_batch(spec)
    assert record.status == "Completed", record.error
    assert sorted(output_lines(spec)) == [f"f00{i}.txt ok none" for i in range(4)]
    p = snapshot(_ws(record), record.id)
    assert (p.failed_batches, p.failed_items) == (1, 1)
    errors = RunFolder.of(_ws(record), record.id).user_error.read_text()
    assert "mini-batch 4 (try 1)" in errors and "mini-batch 3" not in errors
