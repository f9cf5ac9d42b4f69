"""Shipping a batch worker's inputs and files as bytes (in process): what a Ray worker on a node
that cannot see the workspace reads and sends back (``executors/ship.py``). The same plan's
payloads read the same DataFrame from the shipped copy as from the workspace's files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from modelport.jobs.batch import BatchInput, BatchSpec
from modelport.jobs.batch.executors import ship
from modelport.jobs.batch.plan import plan
from modelport.jobs.batch.tabular import read_frame


def _spec(inp: BatchInput, size: int) -> BatchSpec:
    return BatchSpec(
        entry_script="score.py",
        source_directory=".",
        interpreter=sys.executable,
        inputs=(inp,),
        output_dir="/tmp/out",
        mini_batch_size=size,
        process_count_per_node=1,
    )


def test_files_arrive_with_their_names_and_bytes_and_the_workspace_path_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    names = [tmp_path / "a" / "x.png", tmp_path / "a" / "y.png", tmp_path / "b" / "x.png"]
    for i, p in enumerate(names):
        p.write_bytes(bytes([i]) * (i + 1))
    payload = {"input": "in", "kind": "files", "files": [str(p) for p in names]}
    packed = ship.pack(payload, {})
    for p in names:
        p.unlink()  # the worker's side reads only what came with the payload
    there = ship.unpack(packed, tmp_path / "node" / "7")
    files = [Path(f) for f in there["files"]]
    assert [f.name for f in files] == ["x.png", "y.png", "x.png"]  # a name twice: a folder each
    assert len(set(files)) == 3 and all(f.is_relative_to(tmp_path / "node" / "7") for f in files)
    assert [f.read_bytes() for f in files] == [b"\x00", b"\x01\x01", b"\x02\x02\x02"]
    assert "data" not in there and payload == {
        "input": "in",
        "kind": "files",
        "files": [str(p) for p in names],
    }

    unique = ship.unpack(
        ship.pack({"kind": "files", "files": [str(_write(tmp_path / "z.txt", "z"))]}, {}), tmp_path / "u"
    )
    assert unique["files"] == [str(tmp_path / "u" / "z.txt")]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_table_slice_reads_the_same_frame_from_the_shipped_bytes(tmp_path: Path, fmt: str) -> None:
    pytest.importorskip("pandas")
    if fmt == "csv":
        text = "a,b\n" + "".join(f'{i},"x\n{i}"\n' for i in range(40))  # quoted newlines
    else:
        text = "".join(f'{{"a": {i}, "b": "x{i}"}}\n' for i in range(40))
    data = _write(tmp_path / f"t.{fmt}", text)
    inp = BatchInput("t", "tabular", (str(data),), reader={"format": fmt, "include_path": True})
    batches = plan(_spec(inp, 64))
    assert len(batches) > 3
    for mb in batches:
        here = read_frame(mb.payload)
        there = read_frame(ship.unpack(ship.pack(mb.payload, {}), tmp_path / "node" / str(mb.index)))
        assert here.equals(there), (mb.index, here, there)
        assert set(there["Path"]) == {str(data)}  # the dataset's path, not the copy's


def test_the_source_folder_travels_as_a_zip_with_a_script_from_elsewhere(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    _write(src / "score.py", "import pkg.util")
    _write(src / "pkg" / "util.py", "X = 1")
    _write(src / "pkg" / "__pycache__" / "util.cpython-311.pyc", "skipped")
    data, entry = ship.zip_folder(str(src), str(src / "score.py"))
    assert entry == "score.py"
    ship.unzip(data, tmp_path / "there")
    assert (tmp_path / "there" / "pkg" / "util.py").read_text() == "X = 1"
    assert not (tmp_path / "there" / "pkg" / "__pycache__").exists()

    other = _write(tmp_path / "elsewhere.py", "def run(mb): return mb")
    data, entry = ship.zip_folder(str(src), str(other))
    assert entry == "elsewhere.py"
    ship.unzip(data, tmp_path / "there2")
    assert (tmp_path / "there2" / "elsewhere.py").read_text() == other.read_text()


def test_logs_come_back_once_appended_and_outputs_whole_when_they_change(tmp_path: Path) -> None:
    logs, outputs = tmp_path / "node" / "run", tmp_path / "node" / "outputs"
    log = logs / "logs" / "user" / "stdout" / "node000" / "process000.stdout.txt"
    log.parent.mkdir(parents=True)
    outputs.mkdir()
    box = ship.Outbox(logs, outputs)
    run_folder, output_dir = tmp_path / "ws" / "run", tmp_path / "ws" / "out"
    mine = run_folder / "logs" / "user" / "stdout" / "node000" / "process000.stdout.txt"

    log.write_text("one\n")
    (outputs / "sub").mkdir()
    _write(outputs / "sub" / "a.txt", "A1")
    ship.write_back(box.collect(), str(run_folder), str(output_dir))
    assert mine.read_text() == "one\n" and (output_dir / "sub" / "a.txt").read_text() == "A1"

    with open(log, "a") as f:
        f.write("two\n")
    sent = box.collect()
    assert sent == {"logs": [("logs/user/stdout/node000/process000.stdout.txt", b"two\n")], "outputs": []}
    ship.write_back(sent, str(run_folder), str(output_dir))
    assert mine.read_text() == "one\ntwo\n"  # each piece once
    assert box.collect() == {"logs": [], "outputs": []}

    _write(outputs / "sub" / "a.txt", "A2, longer")
    ship.write_back(box.collect(), str(run_folder), str(output_dir))
    assert (output_dir / "sub" / "a.txt").read_text() == "A2, longer"
    assert sorted(os.listdir(output_dir / "sub")) == ["a.txt"]  # no temp file left


def test_a_file_sent_from_outside_its_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside its folder"):
        ship.write_back({"outputs": [("../escaped.txt", b"x")]}, str(tmp_path / "run"), str(tmp_path / "out"))
    assert not (tmp_path / "escaped.txt").exists()


def test_the_file_system_view_is_the_same_for_another_process_and_not_in_another_mount_namespace() -> None:
    import shutil
    import subprocess

    here = ship.fs_view()
    code = "from modelport.jobs.batch.executors.ship import fs_view; print(fs_view())"
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert here and again.stdout.strip() == here
    if sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("unshare"):
        # As the isolated Ray node of tests/ray/test_isolated_batch.py runs: its own mount namespace.
        apart = subprocess.run(
            ["unshare", "--mount", sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert apart.stdout.strip() and apart.stdout.strip() != here
