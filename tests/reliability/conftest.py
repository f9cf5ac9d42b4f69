"""Reliability and security suite: real deployed services, real sockets, figures written as JSON.

Every test here deploys with ``Model.deploy`` into a workspace under ``tmp_path`` (the ``dws``
fixture deletes its services, so their process groups, at teardown), talks to 127.0.0.1 only, and
records what it measured with the ``figures`` fixture: the figures of the whole run are written to
``$MODELPORT_FIGURES/reliability.json`` (else the session's temporary folder), named in one line
at the end of the run; ``docs/reliability.md`` takes its numbers from that file.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
import requests

from bench.procs import tree_memory
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice, AksWebservice, Webservice
from modelport.workspace import Workspace
from tests.fixtures import SCRIPTS, TUTORIAL_SCORE

FIGURES_FILE = "reliability.json"
_figures: dict[str, Any] = {}


# -- figures -------------------------------------------------------------------------------------
def _figures_dir(config: pytest.Config) -> Path:
    given = os.environ.get("MODELPORT_FIGURES")
    if given:
        return Path(given)
    factory = getattr(config, "_tmp_path_factory", None)
    return Path(factory.getbasetemp()) if factory is not None else Path.cwd()


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> Iterator[dict[str, Any]]:
    """A dict each test adds its measured figures to (under its own key); written as JSON at the end."""
    yield _figures
    if _figures:
        folder = _figures_dir(pytestconfig)
        folder.mkdir(parents=True, exist_ok=True)
        stamped = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "cpus": os.cpu_count(), **_figures}
        (folder / FIGURES_FILE).write_text(json.dumps(stamped, indent=2, default=str) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # One line, not the figures themselves: they were ~150 lines of JSON at the end of every
    # full run (issue 19). They are in the file, for docs/reliability.md.
    if _figures:
        where = _figures_dir(terminalreporter.config) / FIGURES_FILE
        groups = len(_figures)
        terminalreporter.write_line(f"reliability figures of {groups} test group(s) written to {where}")


# -- services ------------------------------------------------------------------------------------
def script_dir(tmp_path: Path, script: str | Path) -> Path:
    """A source folder holding ``script`` (a path, or a name in tests/scripts) as ``score.py``."""
    source = script if isinstance(script, Path) else SCRIPTS / script
    src = tmp_path / f"src-{source.stem}"
    src.mkdir(exist_ok=True)
    shutil.copy(source, src / "score.py")
    return src


@pytest.fixture
def deploy(dws: Workspace, digits_model, tmp_path: Path) -> Callable[..., Webservice]:
    """Deploy the digits model behind a test script and wait until Healthy:
    ``deploy("load-svc", TUTORIAL_SCORE, cpu_cores=2, auth_enabled=True)`` (ACI settings), or
    with any ``deploy_config=``."""
    model = Model.register(dws, digits_model[0], "sklearn_mnist")

    def go(
        name: str, script: str | Path = TUTORIAL_SCORE, deploy_config: Any = None, **settings: Any
    ) -> Webservice:
        config = InferenceConfig("score.py", source_directory=script_dir(tmp_path, script))
        deploy_config = deploy_config or AciWebservice.deploy_configuration(**settings)
        service = Model.deploy(dws, name, [model], config, deploy_config)
        service.wait_for_deployment(timeout_sec=120)
        return service

    return go


PATIENT_WAIT_MS = 120_000


def deploy_patient(deploy: Callable[..., Webservice], name: str) -> Webservice:
    """Two workers that never shed load: load tests need every request answered 200 however busy
    the machine. A 503 for a request that waited past ``max_request_wait_time`` (500 ms by
    default) is right for a service and tested in tests/server, but on 2 cores with two test
    workers and two spinning processes, 40 requests of a 64-client run waited longer than that."""
    config = AksWebservice.deploy_configuration(
        autoscale_enabled=False,
        num_replicas=2,  # two worker processes, as ACI's cpu_cores=2 gives
        auth_enabled=False,
        max_request_wait_time=PATIENT_WAIT_MS,
        scoring_timeout_ms=PATIENT_WAIT_MS,
    )
    with pytest.warns(UserWarning, match="local target with 2 worker process"):
        return deploy(name, deploy_config=config)


def digits_body(digits_model: tuple[Path, np.ndarray, np.ndarray], rows: int = 1) -> bytes:
    """A request body for the tutorial's score.py: ``{"data": [[64 pixels], ...]}``."""
    return json.dumps({"data": digits_model[1][:rows].tolist()}).encode()


def service_tree(service: Webservice) -> list[psutil.Process]:
    """The service's supervisor and its live workers."""
    root = psutil.Process(service.serialize()["processes"][0])
    return [root, *(p for p in root.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE)]


def workers(service: Webservice) -> list[psutil.Process]:
    return service_tree(service)[1:]


def memory_mb(service: Webservice) -> dict[str, float]:
    """RSS and PSS of the service's whole process tree (MB); PSS counts pages shared by the
    forked workers once, so it is the fair figure (RSS is the fallback where PSS is unreadable)."""
    mem = tree_memory(service_tree(service))
    rss = mem.rss / 2**20
    return {"rss_mb": round(rss, 1), "pss_mb": round(mem.pss / 2**20, 1) if mem.pss else round(rss, 1)}


def metric(service: Webservice, name: str, headers: dict[str, str] | None = None) -> float | None:
    """One unlabelled sample of the service's /metrics, or None."""
    assert service.port is not None
    text = requests.get(f"http://127.0.0.1:{service.port}/metrics", headers=headers, timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


# -- raw HTTP ------------------------------------------------------------------------------------
def raw_exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection to 127.0.0.1 and read until the server closes (send
    ``Connection: close``) or ``timeout`` passes: exactly the bytes a client receives."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)  # no half-close: uvicorn takes EOF for a client that went away
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def split_response(raw: bytes) -> tuple[int, dict[str, str], list[str], bytes]:
    """(status, headers by lower-case name, raw header lines, body) of one HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, lines, body
