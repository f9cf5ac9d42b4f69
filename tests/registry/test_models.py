from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelport.core.model import Model
from modelport.errors import (
    AlreadyExistsError,
    IntegrityError,
    InvalidInputError,
    ModelNotFound,
)
from modelport.workspace import Workspace


def _file(path: Path, data: bytes = b"model-bytes") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_register_versions_and_lookup(ws: Workspace, tmp_path: Path) -> None:
    f = _file(tmp_path / "m.pkl")
    m1 = Model.register(ws, f, "sk", tags={"data": "mnist"}, description="first")
    m2 = Model.register(ws, f, "sk", tags={"data": "mnist", "v": "2"}, properties={"acc": 0.9})
    assert (m1.version, m2.version) == (1, 2)
    assert m2.id == "sk:2" and m2.properties == {"acc": "0.9"}
    assert Model(ws, "sk").version == 2
    assert Model(ws, id="sk:1").description == "first"
    assert Model(ws, "sk", version=1) == m1
    assert Model(ws, "sk", tags=[["v", "2"]]).version == 2
    assert Model(ws, "sk", tags=["data"]).version == 2
    with pytest.raises(ModelNotFound, match="'sk' has no version 7"):
        Model(ws, "sk", version=7)
    with pytest.raises(ModelNotFound, match="'nothing' not found"):
        Model(ws, "nothing")
    assert [m.version for m in Model.list(ws, name="sk")] == [2, 1]
    assert [m.id for m in Model.list(ws, latest=True)] == ["sk:2"]
    assert [m.id for m in Model.list(ws, tags=[["v", "2"]])] == ["sk:2"]
    assert m1.created_time and m1.url.startswith("modelport://testws/models/sk/1")
    assert Model.Framework.SCIKITLEARN == "ScikitLearn"


def test_folder_roundtrip_byte_identical(ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "modeldir"
    _file(src / "weights.bin", os.urandom(300_000))
    _file(src / "nested" / "deeper" / "config.json", b'{"a": 1}')
    _file(src / "nested" / "vocab.txt", b"a\nb\n")
    model = Model.register(ws, src, "folder-model")
    out = Path(model.download(tmp_path / "out"))
    assert out == tmp_path / "out" / "modeldir"
    cmp = filecmp.dircmp(src, out)
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    for rel in ("weights.bin", "nested/deeper/config.json", "nested/vocab.txt"):
        assert (src / rel).read_bytes() == (out / rel).read_bytes()
    with pytest.raises(AlreadyExistsError):
        model.download(tmp_path / "out")
    model.download(tmp_path / "out", exist_ok=True)


def test_empty_folder_is_refused_and_stores_nothing(ws: Workspace, tmp_path: Path) -> None:
    """Issue 11, bug 7: an empty folder used to become a model version with no files."""
    empty = tmp_path / "emptymodel"
    empty.mkdir()
    only_folders = tmp_path / "hollowmodel"
    (only_folders / "a" / "b").mkdir(parents=True)
    for folder in (empty, only_folders):
        with pytest.raises(InvalidInputError, match=f"'{folder}' is an empty folder"):
            Model.register(ws, folder, "hollow")
    assert Model.list(ws) == []
    assert ws.db.query("SELECT COUNT(*) FROM models")[0][0] == 0
    assert ws.db.query("SELECT COUNT(*) FROM model_files")[0][0] == 0
    assert [p for p in (ws.path / "blobs").rglob("*") if p.is_file()] == []


def test_tampered_blob_fails_download(ws: Workspace, tmp_path: Path) -> None:
    f = _file(tmp_path / "m.pkl", b"0123456789" * 100)
    model = Model.register(ws, f, "tamper")
    blob = ws.blobs.path(model.files[0].sha256)
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[17] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"model 'tamper:1' file 'm\.pkl'.*corrupted"):
        model.download(tmp_path / "dl")
    assert not (tmp_path / "dl" / "m.pkl").exists()
    assert not [p for p in (tmp_path / "dl").iterdir()]
    with pytest.raises(IntegrityError):
        model.verify()


def test_missing_blob_is_integrity_error(ws: Workspace, tmp_path: Path) -> None:
    model = Model.register(ws, _file(tmp_path / "m.pkl"), "gone")
    ws.blobs.path(model.files[0].sha256).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        model.download(tmp_path / "dl")


def test_symlink_outside_is_refused(ws: Workspace, tmp_path: Path) -> None:
    secret = _file(tmp_path / "secret.txt", b"password")
    src = tmp_path / "withlink"
    _file(src / "ok.txt")
    (src / "leak").symlink_to(secret)
    with pytest.raises(InvalidInputError, match="symlink 'leak' points outside"):
        Model.register(ws, src, "leaky")
    assert Model.list(ws) == []


def test_bad_input_changes_nothing(ws: Workspace, tmp_path: Path) -> None:
    f = _file(tmp_path / "m.pkl")
    with pytest.raises(InvalidInputError, match="invalid model name"):
        Model.register(ws, f, "bad name!")
    with pytest.raises(InvalidInputError, match="does not exist"):
        Model.register(ws, tmp_path / "nope.pkl", "x")
    with pytest.raises(InvalidInputError, match="tags must be a dict"):
        Model.register(ws, f, "x", tags=["a", "b"])  # type: ignore[arg-type]
    assert Model.list(ws) == []


def test_tags_properties_update_delete_serialize(ws: Workspace, tmp_path: Path) -> None:
    m = Model.register(ws, _file(tmp_path / "m.pkl"), "tagged", tags={"a": "1"}, properties={"p": "x"})
    m.add_tags({"b": "2"})
    assert Model(ws, "tagged").tags == {"a": "1", "b": "2"}
    m.remove_tags(["a"])
    assert m.tags == {"b": "2"}
    m.update(tags={"only": "this"}, description="new")
    assert (m.tags, m.description) == ({"only": "this"}, "new")
    m.add_properties({"q": "y", "p": "x"})
    with pytest.raises(InvalidInputError, match="property 'p' is already 'x'"):
        m.add_properties({"p": "changed"})
    assert Model(ws, "tagged").properties == {"p": "x", "q": "y"}
    payload = m.serialize()
    assert payload["id"] == "tagged:1"
    assert Model.deserialize(ws, payload) == m
    m.delete()
    with pytest.raises(ModelNotFound):
        Model(ws, "tagged")


_REGISTER = """
import sys
from modelport.workspace import Workspace
from modelport.core.model import Model
ws = Workspace.get("testws")
sys.stdin.read()  # wait for the go signal so all start together
m = Model.register(ws, sys.argv[1], "race")
print(m.version)
"""


def test_eight_processes_register_concurrently(ws: Workspace, tmp_path: Path) -> None:
    payloads = []
    procs = []
    for i in range(8):
        f = _file(tmp_path / f"src{i}" / "m.bin", f"payload-{i}".encode() * 1000)
        payloads.append(f.read_bytes())
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _REGISTER, str(f)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=os.environ.copy(),
            )
        )
    # Imports done by now in every child? Release them all at once, then collect.
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(b"go")
        p.stdin.close()
    results = []
    for p in procs:
        assert p.stdout is not None and p.stderr is not None
        p.wait(timeout=120)
        results.append((p.stdout.read(), p.stderr.read()))
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err.decode()
    versions = sorted(int(out) for out, _ in results)
    assert versions == list(range(1, 9))
    seen = set()
    for v in versions:
        dl = Path(Model(ws, "race", version=v).download(tmp_path / f"dl{v}"))
        seen.add(dl.read_bytes())
    assert seen == set(payloads)
