"""``modelport deploy`` and ``modelport service ...`` through the real console script."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures import TUTORIAL_SCORE

pytestmark = pytest.mark.process


def test_deploy_list_run_logs_keys_delete(
    tmp_path: Path, digits_model: tuple[Path, np.ndarray, np.ndarray], env_cache: Path
) -> None:
    home = tmp_path / "home"
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(TUTORIAL_SCORE, proj / "score.py")
    exe = str(Path(sys.executable).with_name("modelport"))
    env = dict(os.environ, MODELPORT_HOME=str(home), MODELPORT_ENV_CACHE=str(env_cache))

    def cli(*args: str, data: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args], cwd=proj, env=env, capture_output=True, text=True, timeout=300, input=data
        )

    try:
        assert cli("workspace", "create", "cliws", "--write-config", ".").returncode == 0
        r = cli("model", "register", "-n", "sklearn_mnist", "-p", str(digits_model[0]))
        assert r.returncode == 0, r.stderr
        r = cli("deploy", "cli-svc", "--model", "sklearn_mnist:1", "--entry-script", "score.py", "--auth")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Healthy" in r.stdout and "http://127.0.0.1:" in r.stdout
        r = cli("service", "list", "--json")
        listed = json.loads(r.stdout)
        assert [(s["name"], s["state"]) for s in listed] == [("cli-svc", "Healthy")]
        rows = digits_model[1][:4]
        r = cli("service", "run", "cli-svc", "-", data=json.dumps({"data": rows.tolist()}))
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == digits_model[2][:4].tolist()
        r = cli("service", "keys", "cli-svc", "--json")
        keys = json.loads(r.stdout)
        assert len(keys["primaryKey"]) >= 32
        r = cli("service", "logs", "cli-svc")
        assert r.returncode == 0 and "POST /score" in r.stdout
        assert keys["primaryKey"] not in r.stdout
        # An expected error: one line, non-zero, no traceback.
        r = cli("deploy", "cli-svc", "--model", "sklearn_mnist:1", "--entry-script", "score.py")
        assert r.returncode == 1
        assert r.stderr.strip().splitlines() == [
            "error: service 'cli-svc' already exists (overwrite=True or --overwrite replaces it)"
        ]
        r = cli("service", "show", "nope-svc")
        assert r.returncode == 1 and r.stderr.strip() == "error: service 'nope-svc' not found"
    finally:
        r = cli("service", "delete", "cli-svc")
    assert r.returncode == 0, r.stderr
    assert json.loads(cli("service", "list", "--json").stdout) == []


SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def _cli_in(proj: Path, home: Path, env_cache: Path):  # type: ignore[no-untyped-def]
    exe = str(Path(sys.executable).with_name("modelport"))
    env = dict(os.environ, MODELPORT_HOME=str(home), MODELPORT_ENV_CACHE=str(env_cache))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], cwd=proj, env=env, capture_output=True, text=True, timeout=300)

    assert cli("workspace", "create", "cliws", "--write-config", ".").returncode == 0
    (proj / "m.pkl").write_bytes(b"weights")
    assert cli("model", "register", "-n", "m", "-p", "m.pkl").returncode == 0
    return cli


def test_failed_deploy_is_told_once_on_stderr(tmp_path: Path, env_cache: Path) -> None:
    """Issue 11, bug 3 (CLI part): each progress line once, the failure once on stderr, the CLI's hint.

    Needs the SDK change that stops wait_for_deployment(show_output=True) re-printing phases and the
    failure (the CLI no longer asks it to print, so this holds either way)."""
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(SCRIPTS / "init_fails.py", proj / "score.py")
    cli = _cli_in(proj, tmp_path / "home", env_cache)
    try:
        r = cli("deploy", "fail-svc", "--model", "m", "--entry-script", "score.py")
        assert r.returncode == 1, r.stdout + r.stderr
        err = r.stderr.strip().splitlines()
        assert err[0].startswith("error: service 'fail-svc' is Failed: ")
        assert err[-1] == "(see: modelport service logs fail-svc)"
        assert "model file is corrupt" in r.stderr and "model file is corrupt" not in r.stdout
        assert "get_logs" not in r.stdout + r.stderr and "Failed" not in r.stdout
        lines = [line for line in r.stdout.splitlines() if line.strip()]
        assert lines, "no progress was printed"
        assert len(lines) == len(set(lines)), f"a progress line was printed twice:\n{r.stdout}"
        r = cli("service", "logs", "fail-svc")
        assert r.returncode == 0 and "model file is corrupt" in r.stdout
    finally:
        cli("service", "delete", "fail-svc")


def test_run_on_a_stopped_service_is_one_line(tmp_path: Path, env_cache: Path) -> None:
    """Issue 11, bug 2 (CLI part): no `requests` traceback when the service's processes are gone.

    Needs the SDK change making Webservice.run raise ServiceUnavailable naming the state."""
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(SCRIPTS / "plain_echo.py", proj / "score.py")
    cli = _cli_in(proj, tmp_path / "home", env_cache)
    try:
        r = cli("deploy", "down-svc", "--model", "m", "--entry-script", "score.py")
        assert r.returncode == 0, r.stdout + r.stderr
        for pid in json.loads(cli("service", "show", "down-svc", "--json").stdout)["processes"]:
            os.kill(pid, signal.SIGKILL)  # the service's own processes, started by this test
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if json.loads(cli("service", "show", "down-svc", "--json").stdout)["state"] != "Healthy":
                break
            time.sleep(0.2)
        r = cli("service", "run", "down-svc", "{}")
        assert r.returncode == 1
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    finally:
        cli("service", "delete", "down-svc")
