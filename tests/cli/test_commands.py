"""The ``modelport`` command in-process: parsing, help, output and the error story (no services run:
the SDK facade is replaced where a test needs a service in a given state)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from modelport.cli import build_parser, main
from modelport.workspace import Workspace


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def _walk(parser: argparse.ArgumentParser, path: str = "modelport") -> list[tuple[str, Any]]:
    out = [(path, parser)]
    for name, sub in _subparsers(parser).items():
        out.extend(_walk(sub, f"{path} {name}"))
    return out


def test_every_group_and_command_has_a_description_with_an_example_and_every_flag_help() -> None:
    """Issue 11, bug 16: ``modelport service --help`` had no description, ``deploy`` flags no help."""
    parsers = _walk(build_parser())
    assert {"modelport service", "modelport deploy", "modelport service delete"} <= {p for p, _ in parsers}
    for path, parser in parsers:
        assert parser.description and "example" in parser.description, f"{path}: no example"
        assert "modelport " in parser.description.split("example", 1)[1], f"{path}: example is no command"
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                continue
            if path == "modelport" and action.dest == "version":
                continue
            assert action.help, f"{path}: {action.option_strings or action.dest} has no help text"


def test_service_help_shows_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["service", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "list, inspect, call, update, restart and delete deployed services" in out
    assert "modelport service list" in out


def test_delete_of_a_missing_service_says_so_and_exits_1(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11, bug 1: it printed ``deleted doesnotexist`` and exited 0."""
    assert main(["service", "delete", "doesnotexist", "-w", ws.name]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == "error: service 'doesnotexist' not found\n"
    assert main(["service", "delete", "doesnotexist", "-w", ws.name, "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == "error: service 'doesnotexist' not found\n"


def test_no_workspace_config_says_how_to_pick_one(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11, bug 6: ``error: workspace '(from config)' not found under no .modelport/config.json``."""
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    monkeypatch.chdir(nowhere)
    assert main(["model", "list"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith(
        "error: no workspace config found: no .modelport/config.json or .azureml/config.json "
        f"in {nowhere} or any folder above it"
    )
    assert "no workspace exists yet: make one for this folder with: " in err  # nothing to pick (-w)
    assert "modelport workspace create NAME --write-config ." in err
    assert "(from config)" not in err and "Workspace.get" not in err


def test_no_workspace_config_names_the_workspaces_there_are(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19: from the repository root, ``service list`` said no config was found and named
    none of the workspaces that exist."""
    from modelport.workspace import Workspace

    for name in ("tutorial", "demo"):
        Workspace.create(name)
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    monkeypatch.chdir(nowhere)
    assert main(["service", "list"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    assert "pick a workspace with -w NAME (workspaces: demo, tutorial; e.g. -w demo)" in err
    assert "modelport workspace create NAME --write-config ." in err
    # ... and the hint works as it reads.
    assert main(["service", "list", "-w", "demo"]) == 0
    assert capsys.readouterr().out.strip() == "(none)"


def test_registering_an_empty_folder_is_refused(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11, bug 7, through the CLI: no version is created."""
    empty = tmp_path / "emptymodel"
    empty.mkdir()
    assert main(["model", "register", "-n", "hollow", "-p", str(empty), "-w", ws.name]) == 1
    err = capsys.readouterr().err
    assert err == f"error: model_path '{empty}' is an empty folder: no files to register\n"
    assert main(["model", "list", "-w", ws.name, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_service_list_json_with_no_services(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["service", "list", "-w", ws.name, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["service", "list", "-w", ws.name]) == 0
    assert capsys.readouterr().out == "(none)\n"


BAD_INIT = "def init():\n    raise RuntimeError('model file is corrupt')\n\n\ndef run(raw):\n    return raw\n"


def _deploy_failing(ws: Workspace, tmp_path: Path) -> list[str]:
    """Register a model and write a script whose init() raises; the deploy command's arguments."""
    (tmp_path / "m.pkl").write_bytes(b"x")
    (tmp_path / "score.py").write_text(BAD_INIT)
    from modelport.core.model import Model

    Model.register(ws, tmp_path / "m.pkl", "m")
    return ["deploy", "bad-svc", "--model", "m", "--entry-script", str(tmp_path / "score.py"), "-w", ws.name]


def test_run_on_a_service_that_is_not_running_prints_one_line(
    ws: Workspace, fake: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11, bug 2: `service run` on a Failed service printed a 74-line requests traceback."""
    assert main(_deploy_failing(ws, tmp_path)) == 1
    capsys.readouterr()
    assert main(["service", "run", "bad-svc", "{}", "-w", ws.name]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: service 'bad-svc' is Failed: RuntimeError: model file is corrupt")
    assert len(err.splitlines()) == 1


class _Broken:
    """A Webservice with a bug of ours: run() lets a low-level exception through."""

    def __init__(self, workspace: Any, name: str) -> None:
        self.name = name

    def run(self, input_data: Any) -> Any:
        raise requests.ConnectionError("Connection refused")


def test_an_unexpected_exception_is_reported_with_its_traceback(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11, bug 2: anything but a ModelportError is a bug: one line, then the traceback, on stderr."""
    monkeypatch.setattr("modelport.core.webservice.Webservice", _Broken)
    assert main(["service", "run", "down-svc", "{}", "-w", ws.name]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == (
        "error: unexpected error in 'modelport service run' (a bug; the traceback follows): "
        "ConnectionError: Connection refused"
    )
    assert lines[1] == "Traceback (most recent call last):" and "ConnectionError" in lines[-1]


def test_a_failed_deploy_is_told_once_on_stderr_with_the_cli_hint(
    ws: Workspace, fake: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11, bug 3 (CLI part): the failure was printed on stdout and stderr, with a Python hint,
    and every progress line twice."""
    code = main(_deploy_failing(ws, tmp_path))
    out, err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "environment ready",
        "model m:1 copied and verified",
        "models and source copied",
        "server started",
        "  waiting for init() ...",
    ]
    assert err.startswith("error: service 'bad-svc' is Failed: Traceback (most recent call last):")
    assert "RuntimeError: model file is corrupt" in err and "get_logs()" not in err
    assert err.splitlines()[-1] == "(see: modelport service logs bad-svc)"


def test_python_dash_m_modelport_cli(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "modelport.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert r.returncode == 0 and r.stdout.startswith("modelport ")
