"""``modelport service ...`` as a new user meets it (issue 19): the help's own example works
against the tutorial's model, a 413 says how to raise the limit, and ``logs --follow`` follows.

One service of a 784-pixel model (the tutorial's shape), deployed once by the real CLI for the
module; the follow test that deletes its service deploys its own."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pytest
import requests
from sklearn.linear_model import LogisticRegression

from tests.fixtures import TUTORIAL_SCORE

pytestmark = pytest.mark.process

BIN = Path(sys.executable).parent
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
CLI = Callable[..., subprocess.CompletedProcess[str]]


@dataclass
class Deployed:
    proj: Path
    env: dict[str, str]
    cli: CLI
    scoring_uri: str


def _cli_for(proj: Path, env: dict[str, str]) -> CLI:
    def cli(*args: str, data: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "modelport"), *args],
            cwd=proj,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            input=data,
        )

    return cli


@pytest.fixture(scope="module")
def mnist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """``mnist-svc``: the tutorial's score.py over a LogisticRegression of 784 features (random
    pixels, 10 classes: the tutorial's shapes, trained in a second), with a 1 MB body limit."""
    base = tmp_path_factory.mktemp("mnist-cli")
    proj = base / "proj"
    proj.mkdir()
    rng = np.random.default_rng(0)
    x, y = rng.random((300, 784)), np.arange(300) % 10
    joblib.dump(LogisticRegression(max_iter=50).fit(x, y), proj / "sklearn_mnist_model.pkl")
    shutil.copy(TUTORIAL_SCORE, proj / "score.py")
    env = dict(os.environ, MODELPORT_HOME=str(base / "home"), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    cli = _cli_for(proj, env)
    assert cli("workspace", "create", "tutorial", "--write-config", ".").returncode == 0
    r = cli("model", "register", "-n", "sklearn_mnist", "-p", "sklearn_mnist_model.pkl")
    assert r.returncode == 0, r.stderr
    r = cli(
        "deploy", "mnist-svc", "--model", "sklearn_mnist", "--entry-script", "score.py", "--max-body-mb", "1"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        shown = json.loads(cli("service", "show", "mnist-svc", "--json").stdout)
        yield Deployed(proj, env, cli, shown["scoringUri"])
    finally:
        cli("service", "delete", "mnist-svc")


def _examples(help_text: str) -> list[str]:
    """The ``modelport service run`` lines of a help text's examples."""
    return [
        line.strip() for line in help_text.splitlines() if line.strip().startswith("modelport service run")
    ]


# -- item 5: the help's example -------------------------------------------------------------------
def test_the_help_examples_of_service_run_answer_with_a_digit(mnist: Deployed) -> None:
    """Issue 19: ``modelport service run mnist-svc '{"data": [[0, 0, 0]]}'`` answered 500 (three
    values for a 784-pixel model). Each example of the group's and the command's help, run as
    printed in a shell from the tutorial's folder, answers a digit."""
    texts = [mnist.cli("service", "--help").stdout, mnist.cli("service", "run", "--help").stdout]
    examples = sorted({e for text in texts for e in _examples(text)})
    assert len(examples) == 2 and any("- < request.json" in e for e in examples), examples
    assert "784" in texts[1]  # the help says what the tutorial's model takes
    # request.json as the help describes it: {"data": [[784 pixel values from 0 to 1], ...]}
    (mnist.proj / "request.json").write_text(json.dumps({"data": [[0.5] * 784, [0.0] * 784]}))
    for example in examples:
        done = subprocess.run(
            ["bash", "-c", example],
            cwd=mnist.proj,
            env=mnist.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (example, done.stderr)
        digits = json.loads(done.stdout)
        assert isinstance(digits, list) and digits and all(d in range(10) for d in digits), done.stdout


# -- item 7: 413 ---------------------------------------------------------------------------------------
def test_a_body_over_the_limit_says_the_limit_in_mb_and_how_to_raise_it(mnist: Deployed) -> None:
    """Issue 19: ``larger than the limit of 104857600``."""
    body = json.dumps({"data": [[0.5] * 784] * 400})  # 5 bytes a pixel: 1.5 MB
    assert len(body) > 2**20
    r = mnist.cli("service", "run", "mnist-svc", "-", data=body)
    assert r.returncode == 1
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: service 'mnist-svc' answered 413: the request body (1.5 MB) is larger")
    assert "than the service's limit of 1 MB" in line and '"code"' not in line  # the message, not JSON
    assert "max_body_mb" in line and "--max-body-mb" in line
    assert not re.search(r"\d{6,}", line), line  # no byte counts
    answer = requests.post(mnist.scoring_uri, data=body, timeout=30)
    assert answer.status_code == 413 and "limit of 1 MB" in answer.json()["message"]


# -- item 8: logs --follow ----------------------------------------------------------------------------
class Follower:
    """``modelport service logs NAME -f`` in its own session, its stdout read line by line.

    It starts with SIGINT's default action, as under a terminal: a signal ignored by a parent is
    ignored by its children too (and then Python never raises KeyboardInterrupt), and this test
    must not depend on what ran before it in the same pytest process. Its stderr is read as it
    comes, so a child that writes much there cannot block on a full pipe."""

    def __init__(self, deployed: Deployed, name: str) -> None:
        command = [str(BIN / "modelport"), "service", "logs", name, "--follow", "-n", "5"]
        with_default_sigint = (
            "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
            "os.execv(sys.argv[1], sys.argv[1:])"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", with_default_sigint, *command],
            cwd=deployed.proj,
            env=deployed.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.errors: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_errors, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.errors.append(line)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"the follower did not print {text!r} in {timeout} s; it printed {self.seen}")
            try:
                self.seen.append(self.lines.get(timeout=min(left, 1)))
            except queue.Empty:
                assert self.proc.poll() is None, f"the follower exited with {self.proc.returncode}"

    def interrupt(self, timeout: float = 60) -> tuple[int, str]:
        """Ctrl-C; the exit status and everything the follower wrote to stderr."""
        self.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
            state = [ln for ln in status.splitlines() if ln.startswith(("State", "SigIgn", "SigCgt"))]
            pytest.fail(f"the follower did not end {timeout} s after SIGINT: {state}; stderr: {self.errors}")
        return code, self.errors_when_ended()

    def errors_when_ended(self) -> str:
        """Everything the ended follower wrote to stderr."""
        for reader in self._readers:
            reader.join(timeout=30)
        return "".join(self.errors)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


def _score(uri: str, body: str) -> str:
    rid = str(uuid.uuid4())
    answer = requests.post(uri, data=body, headers={"x-request-id": rid}, timeout=30)
    assert answer.status_code == 200, answer.text
    return rid


def test_logs_follow_prints_new_lines_as_they_come_and_ends_on_ctrl_c(mnist: Deployed) -> None:
    follower = Follower(mnist, "mnist-svc")
    try:
        follower.wait_for("modelport.")  # the last lines first
        body = json.dumps({"data": [[0.1] * 784]})
        for _ in range(2):  # each new request's line, as the service writes it
            follower.wait_for(f"rid={_score(mnist.scoring_uri, body)}")
        assert follower.interrupt() == (0, "")
    finally:
        follower.stop()


def test_logs_follow_moves_with_a_redeployment_and_ends_when_the_service_is_deleted(
    tmp_path: Path, mnist: Deployed
) -> None:
    cli = mnist.cli
    shutil.copy(SCRIPTS / "plain_echo.py", mnist.proj / "echo.py")
    deploy = ["deploy", "follow-svc", "--model", "sklearn_mnist", "--entry-script", "echo.py"]
    r = cli(*deploy)
    assert r.returncode == 0, r.stdout + r.stderr
    follower = Follower(mnist, "follow-svc")
    try:
        follower.wait_for("modelport.")
        r = cli(*deploy, "--overwrite")  # a new bundle, a new log file
        assert r.returncode == 0, r.stdout + r.stderr
        uri = json.loads(cli("service", "show", "follow-svc", "--json").stdout)["scoringUri"]
        follower.wait_for(f"rid={_score(uri, '{}')}")
        assert cli("service", "delete", "follow-svc").returncode == 0
        assert follower.proc.wait(timeout=60) == 0  # by itself
        said = follower.errors_when_ended().strip()
        assert said == "service 'follow-svc' was deleted: no more log to follow"
    finally:
        follower.stop()
        cli("service", "delete", "follow-svc")


def test_logs_follow_of_a_missing_service_is_one_line(mnist: Deployed) -> None:
    r = mnist.cli("service", "logs", "no-such-svc", "--follow")
    assert r.returncode == 1 and r.stderr.strip() == "error: service 'no-such-svc' not found"
