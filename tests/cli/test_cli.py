"""The real ``modelport`` console script, as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("modelport")
    assert exe.exists(), "the modelport console script is not installed next to the interpreter"
    return [str(exe)]


def run(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MODELPORT_HOME=str(home))
    return subprocess.run(_cli() + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_register_list_show_download_roundtrip(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "model.pkl").write_bytes(b"\x00weights\xff" * 50)
    r = run(["workspace", "create", "clitest", "--write-config", "."], proj, home)
    assert r.returncode == 0, r.stderr
    r = run(
        ["model", "register", "-n", "cli_model", "-p", "model.pkl", "--tag", "data=mnist", "--json"],
        proj,
        home,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["id"] == "cli_model:1"
    r = run(["model", "list"], proj, home)
    assert r.returncode == 0 and "cli_model" in r.stdout and "data=mnist" in r.stdout
    assert r.stdout.splitlines()[0].startswith("NAME")
    r = run(["model", "list", "--json"], proj, home)
    assert [m["version"] for m in json.loads(r.stdout)] == [1]
    r = run(["model", "show", "cli_model:1", "--json"], proj, home)
    shown = json.loads(r.stdout)
    assert shown["tags"] == {"data": "mnist"} and shown["files"][0]["path"] == "model.pkl"
    r = run(["model", "download", "cli_model", "-t", str(tmp_path / "dl")], proj, home)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dl" / "model.pkl").read_bytes() == (proj / "model.pkl").read_bytes()
    r = run(["environment", "register", "-n", "env1", "--pip", "six", "--json"], proj, home)
    assert r.returncode == 0 and json.loads(r.stdout)["version"] == "1"
    r = run(["environment", "show", "env1:1", "--json"], proj, home)
    assert json.loads(r.stdout)["pip_packages"] == ["six"]


def test_errors_are_one_line_and_nonzero(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proj = tmp_path / "proj"
    proj.mkdir()
    assert run(["workspace", "create", "errs", "--write-config", "."], proj, home).returncode == 0
    (proj / "m.pkl").write_bytes(b"x")
    assert run(["model", "register", "-n", "sklearn_mnist", "-p", "m.pkl"], proj, home).returncode == 0
    r = run(["model", "show", "sklearn_mnist:7"], proj, home)
    assert r.returncode == 1
    assert r.stderr.strip() == "error: model 'sklearn_mnist' has no version 7"
    r = run(["model", "register", "-n", "x", "-p", "missing.pkl"], proj, home)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr and "missing.pkl" in r.stderr
    elsewhere = tmp_path / "nowhere"
    elsewhere.mkdir()
    r = run(["model", "list"], elsewhere, home)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_console_script_exists() -> None:
    assert shutil.which("modelport", path=str(Path(sys.executable).parent))
