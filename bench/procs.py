"""Server processes: each in its own session, its whole group killed at the end, whatever happens.

Every started process is remembered until stopped; an ``atexit`` hook and a SIGTERM handler stop
whatever is left, so Ctrl-C, an exception or a ``kill`` of the bench leaves no server behind.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

_running: dict[int, ServerProcess] = {}
STOP_GRACE_S = 10.0


@dataclass
class ServerProcess:
    """A launched server: its Popen, its process group, the pids seen in its tree, its log."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    started_at: float  # time.perf_counter() just before launch
    seen: dict[int, float] = field(default_factory=dict)  # pid -> create_time, to never kill a reused pid

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tree(self) -> list[psutil.Process]:
        """The server and all its descendants that are alive now."""
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        for p in procs:
            with contextlib.suppress(psutil.Error):
                self.seen.setdefault(p.pid, p.create_time())
        return procs

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(cmd: list[str], cwd: Path, env: dict[str, str], log_path: Path) -> ServerProcess:
    """Launch ``cmd`` in a new session (so its group can be killed as one), output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("wb")
    started_at = time.perf_counter()
    popen = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    proc = ServerProcess(popen, log_path, log_file, started_at)
    _running[popen.pid] = proc
    return proc


def stop(proc: ServerProcess) -> None:
    """SIGTERM the process group, SIGKILL it after a grace period, then any straggler seen in the tree."""
    proc.tree()
    pgid = proc.pid  # start_new_session: the group id is the leader's pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        proc.popen.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(timeout=STOP_GRACE_S)
    for pid, created in proc.seen.items():  # a child that left the group (setsid) is still ours to end
        with contextlib.suppress(psutil.Error):
            child = psutil.Process(pid)
            if child.create_time() == created:
                child.kill()
    proc.log_file.close()
    _running.pop(proc.pid, None)


def stop_all() -> None:
    """Stop every server this process started and has not stopped yet."""
    for proc in list(_running.values()):
        stop(proc)


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks, then atexit


def install_cleanup() -> None:
    """Stop leftover servers at interpreter exit, and turn SIGTERM into an exit that runs cleanups."""
    atexit.register(stop_all)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


def listen_addresses(proc: ServerProcess) -> list[str]:
    """``ip:port`` of every TCP socket the server's tree listens on."""
    found = set()
    for p in proc.tree():
        with contextlib.suppress(psutil.Error):
            for conn in p.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr:
                    found.add(f"{conn.laddr.ip}:{conn.laddr.port}")
    return sorted(found)


def is_loopback(address: str) -> bool:
    """Whether ``ip:port`` (IPv4, IPv6 or IPv4-mapped IPv6) is on the loopback range."""
    ip = ipaddress.ip_address(address.rsplit(":", 1)[0].strip("[]"))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@dataclass
class Memory:
    """Memory of a process tree, in bytes: RSS summed (counts shared pages once per process) and PSS
    summed (shared pages split between the processes sharing them: the fair total for forked workers)."""

    rss: int
    pss: int | None


def tree_memory(procs: list[psutil.Process]) -> Memory:
    rss, pss, have_pss = 0, 0, True
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if have_pss:
                try:
                    full = p.memory_full_info()
                    rss += full.rss
                    pss += getattr(full, "pss", 0)
                    have_pss = hasattr(full, "pss")
                    continue
                except psutil.AccessDenied:
                    have_pss = False
            rss += p.memory_info().rss
    return Memory(rss, pss if have_pss else None)


class PeakSampler:
    """Samples a server's tree memory every ``interval`` seconds in a thread; keeps the peak.

    The tree itself is re-listed every half second, not every sample: listing children walks /proc.
    """

    def __init__(self, proc: ServerProcess, interval: float = 0.02) -> None:
        self.proc, self.interval = proc, interval
        self.peak_rss, self.peak_pss, self.samples = 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        procs, listed = self.proc.tree(), time.monotonic()
        while not self._stop.is_set():
            sampled = time.monotonic()
            if sampled - listed > 0.5:
                procs, listed = self.proc.tree(), time.monotonic()
            mem = tree_memory(procs)
            self.peak_rss = max(self.peak_rss, mem.rss)
            self.peak_pss = max(self.peak_pss, mem.pss or 0)
            self.samples += 1
            # A PSS read takes milliseconds on a big process: wait out only the rest of the interval.
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - sampled)))

    @contextlib.contextmanager
    def running(self) -> Iterator[PeakSampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=5)
