"""Planning mini-batches (in process): files by count, tables by bytes at record boundaries and
never across files, one mini-batch per partition value; the spec's checks and fingerprint."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

from modelport.errors import InvalidInputError, NotFoundError
from modelport.jobs.batch import BatchInput, BatchSpec, check_entry_script, parse_mini_batch_size
from modelport.jobs.batch.plan import csv_segments, plan
from modelport.jobs.batch.thresholds import exceeded

SCRIPTS = str(Path(__file__).parent / "scripts")


def _spec(inputs: tuple[BatchInput, ...], **kw: object) -> BatchSpec:
    return BatchSpec(
        entry_script="behave.py",
        source_directory=SCRIPTS,
        interpreter=sys.executable,
        inputs=inputs,
        output_dir="/tmp/out",
        mini_batch_size=kw.pop("mini_batch_size", 3),  # type: ignore[arg-type]
        process_count_per_node=1,
        **kw,  # type: ignore[arg-type]
    )


def test_files_by_count_in_order_and_inputs_never_mixed() -> None:
    a = BatchInput("a", "files", tuple(f"/d/a{i}" for i in range(7)))
    b = BatchInput("b", "files", ("/d/b0", "/d/b1"))
    batches = plan(_spec((a, b)))
    assert [mb.payload["files"] for mb in batches] == [
        ["/d/a0", "/d/a1", "/d/a2"],
        ["/d/a3", "/d/a4", "/d/a5"],
        ["/d/a6"],
        ["/d/b0", "/d/b1"],
    ]
    assert [mb.input for mb in batches] == ["a", "a", "a", "b"]
    assert plan(_spec((a, b))) == batches  # deterministic


def test_csv_cut_at_record_boundaries_with_quoted_newlines(tmp_path: Path) -> None:
    lines = ["id,text"] + [
        f'{i},"line {i}\nstill {i}, ""quoted"""' if i % 3 == 0 else f"{i},plain {i}" for i in range(50)
    ]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    header_end, segments = csv_segments(str(path), 60, header=True)
    data = path.read_bytes()
    assert data[:header_end] == b"id,text\n"
    assert segments[0][0] == header_end and segments[-1][1] == len(data)
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(segments))
    assert sum(n for _, _, n in segments) == 50
    pd = pytest.importorskip("pandas")
    import io

    rows = 0
    for s, e, n in segments:
        frame = pd.read_csv(io.BytesIO(data[:header_end] + data[s:e]))
        assert len(frame) == n  # each piece parses alone: no record was cut
        assert all(e - s >= 60 for s, e, _ in segments[:-1])
        rows += len(frame)
    assert rows == 50


def test_tabular_never_crosses_files_and_counts_rows(tmp_path: Path) -> None:
    paths = []
    for k in range(3):
        p = tmp_path / f"p{k}.csv"
        p.write_text("a,b\n" + "".join(f"{i},{k}\n" for i in range(10 + k)))
        paths.append(str(p))
    inp = BatchInput("t", "tabular", tuple(paths), {"format": "csv", "header": True})
    batches = plan(_spec((inp,), mini_batch_size=20))
    assert all(len(mb.payload["parts"]) == 1 for mb in batches)
    per_file: dict[str, int] = {}
    for mb in batches:
        part = mb.payload["parts"][0]
        per_file[part["file"]] = per_file.get(part["file"], 0) + part["rows"]
    assert per_file == {paths[0]: 10, paths[1]: 11, paths[2]: 12}
    assert len(batches) > 3


def test_one_mini_batch_per_partition_value() -> None:
    files = tuple(
        f"/d/{u}/{g}/{i}.wav"
        for u, g, i in [("u1", "jazz", 0), ("u2", "rock", 1), ("u1", "jazz", 2), ("u1", "pop", 3)]
    )
    values = tuple({"user": f.split("/")[2], "genres": f.split("/")[3]} for f in files)
    inp = BatchInput("audio", "files", files, partition_values=values)
    batches = plan(_spec((inp,), partition_keys=("user",), mini_batch_size=1))
    assert [(mb.payload["partition_key_value"], mb.payload["files"]) for mb in batches] == [
        ({"user": "u1"}, [files[0], files[2], files[3]]),
        ({"user": "u2"}, [files[1]]),
    ]


def test_validation_names_the_problem() -> None:
    good = BatchInput("a", "files", ("/d/a",))
    with pytest.raises(NotFoundError, match=r"nope\.py not found"):
        _spec((good,)).__class__(**{**_spec((good,)).__dict__, "entry_script": "nope.py"}).validate()
    with pytest.raises(InvalidInputError, match="one kind"):
        _spec((good, BatchInput("t", "tabular", ("/d/t.csv",), {"format": "csv"}))).validate()
    with pytest.raises(InvalidInputError, match="mini_batch_size must be a size"):
        parse_mini_batch_size("ten", "tabular")
    with pytest.raises(InvalidInputError, match="number of files"):
        parse_mini_batch_size("10MB", "files")
    assert parse_mini_batch_size("10MB", "tabular") == 10 * 1024 * 1024
    assert parse_mini_batch_size("1kb", "tabular") == 1024
    assert parse_mini_batch_size(None, "files") == 10
    with pytest.raises(InvalidInputError, match="partition key 'genre'"):
        _spec(
            (BatchInput("a", "files", ("/d/a",), partition_values=({"user": "x"},)),),
            partition_keys=("genre",),
        ).validate()


def test_run_missing_is_found_by_parsing(tmp_path: Path) -> None:
    (tmp_path / "norun.py").write_text("import sys\nsys.exit('never imported')\ndef init():\n    pass\n")
    with pytest.raises(InvalidInputError, match="no run\\(\\) function"):
        check_entry_script(tmp_path, "norun.py")
    (tmp_path / "ok.py").write_text("from helpers import run\n")
    assert check_entry_script(tmp_path, "ok.py").name == "ok.py"


def test_json_round_trip_and_fingerprint(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("x")
    spec = _spec((BatchInput("a", "files", (str(f),)),), arguments=("--tag", "1"), error_threshold=3)
    again = BatchSpec.from_json(spec.to_json())
    assert again == spec
    assert again.fingerprint() == spec.fingerprint()
    # Thresholds and process counts do not change the work; the arguments and the input do.
    assert (
        _spec(
            (BatchInput("a", "files", (str(f),)),), arguments=("--tag", "1"), error_threshold=9
        ).fingerprint()
        == spec.fingerprint()
    )
    assert (
        _spec((BatchInput("a", "files", (str(f),)),), arguments=("--tag", "2")).fingerprint()
        != spec.fingerprint()
    )
    before = spec.fingerprint()
    f.write_text("changed!")  # another size: the input is not the same any more
    assert spec.fingerprint() != before


def test_thresholds_v1_semantics() -> None:
    inp = (BatchInput("a", "files", ("/d/a",)),)
    assert (
        exceeded(
            _spec(inp, error_threshold=2),
            failed_items=2,
            failed_batches=0,
            total_batches=5,
            all_scheduled=False,
        )
        is None
    )
    assert "error_threshold=2" in (
        exceeded(
            _spec(inp, error_threshold=2),
            failed_items=3,
            failed_batches=0,
            total_batches=5,
            all_scheduled=False,
        )
        or ""
    )
    assert (
        exceeded(
            _spec(inp, error_threshold=-1),
            failed_items=10**6,
            failed_batches=9,
            total_batches=10,
            all_scheduled=True,
        )
        is None
    )
    assert "allowed_failed_count=1" in (
        exceeded(
            _spec(inp, allowed_failed_count=1),
            failed_items=0,
            failed_batches=2,
            total_batches=5,
            all_scheduled=False,
        )
        or ""
    )
    pct = _spec(inp, allowed_failed_percent=20)
    assert (
        exceeded(pct, failed_items=0, failed_batches=3, total_batches=10, all_scheduled=False) is None
    )  # not yet judged
    assert "allowed_failed_percent=20" in (
        exceeded(pct, failed_items=0, failed_batches=3, total_batches=10, all_scheduled=True) or ""
    )
    assert exceeded(pct, failed_items=0, failed_batches=2, total_batches=10, all_scheduled=True) is None


def test_json_lines_are_cut_at_newlines(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    p.write_text("".join(f'{{"x": {i}, "s": "a \\"quoted\\" value"}}\n' for i in range(40)))
    inp = BatchInput("j", "tabular", (str(p),), {"format": "json_lines"})
    batches = plan(_spec((inp,), mini_batch_size=200))
    assert inp.format == "jsonl" and len(batches) > 3
    assert sum(mb.items for mb in batches) == 40
    data = p.read_bytes()
    for mb in batches:
        part = mb.payload["parts"][0]
        assert data[part["start"] : part["end"]].count(b"\n") == part["rows"]


def test_public_surface() -> None:
    import importlib

    from modelport.jobs import batch

    assert set(batch.__all__) == {
        "KIND",
        "BatchInput",
        "BatchSpec",
        "Progress",
        "ProgressView",
        "cancel",
        "check_entry_script",
        "follow",
        "load",
        "parse_mini_batch_size",
        "resume",
        "snapshot",
        "submit",
    }
    entry = importlib.import_module("modelport.jobs.batch.userpath.azureml_user.parallel_run")
    assert entry.__all__ == ["EntryScript"]
    from modelport.errors import NotSupported

    with pytest.raises(NotSupported, match="inside a batch run's worker"):
        entry.EntryScript()
