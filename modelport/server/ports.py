"""Before binding: is the port free, and if it is shared (``reuse_port``), with whom?

gunicorn retries a busy port for about 5 s and then exits 1 without a word; with SO_REUSEPORT the
kernel lets a second server bind a port another one listens on and silently splits the traffic
between them, which is what a redeployment wants and what a hand-started ``modelport serve``
must never do to a deployed service. :func:`port_problem` says what is wrong, in one line.
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
from dataclasses import dataclass
from pathlib import Path

from modelport.server.config import ServerConfig


@dataclass(frozen=True, slots=True)
class Listener:
    """A process listening on a TCP port, and the modelport service it runs, if any."""

    pid: int
    cmdline: str
    service_name: str | None = None
    """The ``service_name`` of its ``--config`` file when it is a modelport server started with one."""


def port_problem(config: ServerConfig) -> str | None:
    """Why ``config`` cannot listen on its port (one line), or None."""
    if config.port == 0:
        return None
    where = f"port {config.port} on {config.host}"
    if config.reuse_port:
        owner = listener(config.port)
        if owner is not None and owner.service_name is not None and owner.service_name != config.service_name:
            return (
                f"{where} belongs to the modelport service '{owner.service_name}' (pid {owner.pid}); "
                "--reuse-port would take part of its traffic: choose another port"
            )
    if not _in_use(config.host, config.port, config.reuse_port):
        return None
    owner = listener(config.port)
    by = f" (by pid {owner.pid}, {owner.cmdline})" if owner is not None else ""
    return f"{where} is already in use{by}"


def _in_use(host: str, port: int, reuse_port: bool = False) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        if reuse_port:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def listener(port: int) -> Listener | None:
    """The process listening on TCP ``port`` (any address), or None if none is visible to us."""
    import psutil

    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    pids = [c.pid for c in connections if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port]
    for pid in pids:
        if pid is None:
            continue
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            # gunicorn's workers share the supervisor's socket: name the supervisor.
            parent = process.parent()
            if parent is not None and _is_modelport_server(parent.cmdline()):
                process = parent
            cmdline = process.cmdline()
            return Listener(process.pid, " ".join(cmdline), _service_name(cmdline, process.cwd()))
    return None


def _is_modelport_server(cmdline: list[str]) -> bool:
    return any(part in ("modelport.server", "modelport.cli") for part in cmdline) or (
        len(cmdline) > 1 and Path(cmdline[1]).name == "modelport" and "serve" in cmdline
    )


def _service_name(cmdline: list[str], cwd: str) -> str | None:
    """A modelport server's service name, from its ``--config`` file (what deployments run)."""
    if not _is_modelport_server(cmdline) or "--config" not in cmdline:
        return None
    index = cmdline.index("--config")
    if index + 1 >= len(cmdline):
        return None
    path = Path(cmdline[index + 1])
    if not path.is_absolute():
        path = Path(cwd) / path
    try:
        name = json.loads(path.read_text(encoding="utf-8")).get("service_name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None
