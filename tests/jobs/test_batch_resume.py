"""Exactly-once across crashes: the supervisor SIGKILLed at several points and resumed, a
canceled run resumed as a new run, a resubmission reusing a dead run's work; and the output
file rebuilt from the journal for every state a kill can leave it in."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest

from modelport.jobs import batch
from modelport.jobs.batch.journal import Journal
from modelport.jobs.batch.layout import RunFolder
from modelport.jobs.batch.output import OutputFile
from modelport.registry import runs
from tests.jobs.conftest import output_lines, wait_final

pytestmark = pytest.mark.process


def _finished(ws: Any, run_id: str) -> int:
    path = RunFolder.of(ws, run_id).journal
    if not path.is_file():
        return 0
    try:
        j = Journal(path, readonly=True)
        try:
            return j.totals().finished_batches
        finally:
            j.close()
    except Exception:
        return 0


def _wait_until(cond: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def _kill_supervisor(ws: Any, run_id: str) -> list[int]:
    """SIGKILL the run's supervisor (only it); returns its workers' pids, which must die too."""
    pid = int(runs.get_run(ws, run_id).details["supervisor"]["pid"])
    proc = psutil.Process(pid)
    workers = [c.pid for c in proc.children(recursive=True)]
    os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return workers


def _gone(pids: list[int]) -> bool:
    return not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def _assert_exactly_once(spec: Any, n: int) -> None:
    counts = Counter(output_lines(spec))
    assert sorted(counts) == sorted(f"f{i:03d}.txt slow none" for i in range(n))
    assert set(counts.values()) == {1}, [k for k, v in counts.items() if v > 1]


def test_supervisor_killed_at_several_points_then_resumed(ws: Any, files: Any, make_spec: Any) -> None:
    n = 60
    spec = make_spec(files(*["slow"] * n), mini_batch_size=3)  # 20 mini-batches, ~150 ms each
    run_id = batch.submit(ws, "exp", spec).id
    kills = 0
    # Kill right away (planning/starting), then after 1, 6 and 13 finished mini-batches: each kill
    # lands wherever the supervisor happens to be (between a commit and its append, mid-dispatch...).
    for at in (0, 1, 6, 13):
        _wait_until(
            lambda at=at: _finished(ws, run_id) >= at and runs.get_run(ws, run_id).details.get("supervisor")
        )
        if runs.get_run(ws, run_id).status in runs.FINAL:
            break
        workers = _kill_supervisor(ws, run_id)
        kills += 1
        _wait_until(lambda workers=workers: _gone(workers), timeout=20)  # PDEATHSIG: no stray worker
        assert runs.get_run(ws, run_id).status not in runs.FINAL
        resumed = batch.resume(ws, run_id)
        assert resumed.id == run_id  # the same run goes on
    record = wait_final(ws, run_id)
    assert record.status == "Completed", record.error
    assert kills >= 3
    _assert_exactly_once(spec, n)
    folder = RunFolder.of(ws, run_id)
    assert len(folder.progress_overviews()) >= 2  # one per supervisor session, as v1 writes one per job
    assert "Resuming run" in folder.driver_log.read_text()


def test_canceled_run_resumes_as_a_new_run_reusing_its_work(ws: Any, files: Any, make_spec: Any) -> None:
    n = 40
    spec = make_spec(files(*["slow"] * n), mini_batch_size=2)
    first = batch.submit(ws, "exp", spec).id
    _wait_until(lambda: _finished(ws, first) >= 5)
    batch.cancel(ws, first)
    assert wait_final(ws, first).status == "Canceled"
    done_before = _finished(ws, first)
    second = batch.resume(ws, first)
    assert second.id != first and second.details["reuseFrom"] == first
    record = wait_final(ws, second.id)
    assert record.status == "Completed", record.error
    _assert_exactly_once(spec, n)
    assert (
        f"Reused {done_before} finished mini-batches of run {first}"
        in RunFolder.of(ws, second.id).driver_log.read_text()
    )
    with pytest.raises(Exception, match="nothing left to score"):
        batch.resume(ws, second.id)


def test_resubmitting_the_same_work_reuses_a_dead_runs_mini_batches(
    ws: Any, files: Any, make_spec: Any
) -> None:
    n = 30
    spec = make_spec(files(*["slow"] * n), mini_batch_size=3)
    first = batch.submit(ws, "exp", spec).id
    _wait_until(lambda: _finished(ws, first) >= 3)
    workers = _kill_supervisor(ws, first)
    _wait_until(lambda: _gone(workers), timeout=20)
    second = batch.submit(ws, "exp", spec)  # what a resubmitted pipeline does
    assert second.details["reuseFrom"] == first
    assert wait_final(ws, second.id).status == "Completed"
    assert runs.get_run(ws, first).status == "Running"  # left as it was: never resumed
    _assert_exactly_once(spec, n)


# -- the output file, for every state a kill leaves behind ------------------------------------------
def _journal_with(tmp_path: Path, entries: list[bytes]) -> Journal:
    from modelport.jobs.batch.plan import MiniBatch

    j = Journal(tmp_path / "journal.db")
    j.save_plan([MiniBatch(i, "in", 1, {"files": [str(i)]}) for i in range(len(entries) + 2)])
    for i, rows in enumerate(entries):
        j.record(i, ok=True, items=1, failed_items=0, tries=1, rows=rows)
    return j


@pytest.mark.parametrize(
    "on_disk",
    [
        b"",  # killed before any append
        b"a1\na2\n",  # killed after a commit, before its append
        b"a1\na2\nb1",  # killed in the middle of an append
        b"a1\na2\nb1\nc1\nXXXX",  # appended rows whose commit was lost (a power cut)
        b"a1\na2\nb1\nc1\n",  # nothing lost
        b"a1\na2\nbZ\nc",  # a torn write: the bytes of the last entry differ
    ],
)
def test_output_is_rebuilt_from_the_journal(tmp_path: Path, on_disk: bytes) -> None:
    j = _journal_with(tmp_path, [b"a1\na2\n", b"b1\n", b"c1\n"])
    out = tmp_path / "out.txt"
    out.write_bytes(on_disk)
    f = OutputFile(out, j)
    f.reconcile(fresh=False)
    fin = j.record(3, ok=True, items=1, failed_items=0, tries=1, rows=b"d1\n")
    f.append(fin.out_start, b"d1\n")
    f.close()
    assert out.read_bytes() == b"a1\na2\nb1\nc1\nd1\n"
