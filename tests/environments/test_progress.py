"""A build's progress: a status line redrawn in place on a terminal, a few milestone lines in a
pipe (issue 19: the tutorial's first deploy printed 33 progress-bar lines into a notebook's log)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

# A build of the server's own requirements and one small package into a fresh cache: everything
# is compiled (~30 packages, ~700 files), so there are steps to show.
BUILD = """
import sys
from modelport.environments import EnvSpec, resolve_interpreter
resolve_interpreter(EnvSpec("progress-env", pip_packages=("six",)), sys.argv[1])
"""
PREFIX = b"environment 'progress-env': "


def _build_into_a_pipe(cache: Path) -> bytes:
    cmd = [sys.executable, "-c", BUILD, str(cache)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert done.returncode == 0, done.stdout.decode()
    return done.stdout


def _build_on_a_terminal(cache: Path) -> bytes:
    """The same build with a real pseudo-terminal as its standard output; all it wrote."""
    main, side = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", BUILD, str(cache)], stdout=side, stderr=side, stdin=subprocess.DEVNULL
    )
    os.close(side)
    out = bytearray()
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the process closed the terminal (it exited)
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(main)
        assert proc.wait(timeout=60) == 0, out.decode(errors="replace")
    return bytes(out).replace(b"\r\n", b"\n")  # the terminal's own line ends (onlcr)


def test_a_build_into_a_pipe_logs_a_few_milestones_and_no_bars(tmp_path: Path) -> None:
    out = _build_into_a_pipe(tmp_path / "cache")
    lines = out.decode().splitlines()
    assert all(line.startswith(PREFIX.decode()) for line in lines), lines
    assert "[" not in "".join(line.split("(")[0] for line in lines)  # no bar
    assert b"\r" not in out and b"\x1b" not in out
    assert 5 <= len(lines) <= 10, lines
    for milestone in ("building a Python", "resolve: ", "install: Installed", "compile: ", "built in"):
        assert any(milestone in line for line in lines), (milestone, lines)
    assert any(" package(s) compiled in " in line for line in lines), lines


def test_a_build_on_a_terminal_redraws_one_status_line(tmp_path: Path) -> None:
    out = _build_on_a_terminal(tmp_path / "cache")
    steps = out.count(b"\r" + PREFIX + b"compile: [")
    assert steps >= 10, out  # one per package compiled, each drawn over the last
    lines = out.split(b"\n")
    assert len(lines) <= 12, out  # the milestones, as in a pipe
    assert b"[####################] " in out  # the bar reached its end
    # The status line is cleared before the next milestone: no line ends inside a bar.
    assert not [line for line in lines if b"compile: [" in line.rsplit(b"\x1b[K", 1)[-1]], out
