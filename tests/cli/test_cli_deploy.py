"""``modelport deploy`` and ``modelport service ...`` through the real console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import TUTORIAL_SCORE

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
