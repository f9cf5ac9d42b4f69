"""Runs on a Ray cluster: what a compute target is to a script run or a batch run.

The facade resolves a compute target (``ComputeTarget``, a name, v1's ``AmlCompute``) into a
:class:`RayCompute`: plain data, JSON across process boundaries, with no v1 object and nothing
of ``modelport.deploy`` (the engine layer's other half, which this one may not import). A script
run becomes a Ray job (:mod:`.job`); a batch run's workers become Ray actors
(:mod:`modelport.jobs.batch.executors.ray`). Both check a cluster before anything starts
(:func:`check`): it answers, it runs the Jobs API when a job is asked of it, and a batch run's
``node_count`` is within its ``max_nodes``.

Example::

    compute = RayCompute(name="cpu-cluster", kind="AmlCompute", address="127.0.0.1:6379",
                         token_file="/ws/compute/cpu-cluster.token",
                         dashboard="http://127.0.0.1:8265", max_nodes=4, owned=True)
    check(compute, jobs=True)
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from modelport.errors import ComputeTargetError, InvalidInputError

__all__ = ["RayCompute", "auth_headers", "check", "check_node_count", "connect", "gcs_answers"]

_AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class RayCompute:
    """A Ray cluster as a run uses it.

    ``address``: the GCS (``host:port``); ``token_file``: its Ray token (0600, in the workspace),
    or None for a cluster without authentication; ``dashboard``: its Jobs API
    (``http://host:port``), or None when the cluster runs no dashboard; ``max_nodes``: the most
    nodes a batch run may ask for (v1's ``scale_settings.maximum_node_count``; for an attached
    cluster, its live nodes when resolved); ``owned``: started by the workspace on this machine
    (every node sees this machine's files)."""

    name: str
    kind: str
    address: str
    token_file: str | None = None
    dashboard: str | None = None
    max_nodes: int | None = None
    owned: bool = False
    python: str | None = None
    """The interpreter the cluster's own workers run (known for a cluster modelport started)."""
    keep_warm_s: float = 0.0
    """How long a batch run's Ray workers are kept for the next run of the same environment (v1's
    ``idle_seconds_before_scaledown``, for a cluster modelport started; 0: not kept)."""
    job_resources: dict[str, float] | None = None
    """Ray resources a script run's job asks for (``entrypoint_resources``): the nodes offering
    them run it (``AmlCompute.attach_configuration(job_resources=...)``)."""
    temp_dir: str | None = None
    """The Ray folder of a cluster modelport started: the nodes it started keep their sockets
    there (a node someone else joined to it does not)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RayCompute:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def loopback(self) -> bool:
        return self.address.split("://")[-1].startswith(f"{LOOPBACK}:")


def gcs_answers(address: str, timeout: float = 2.0) -> bool:
    """Whether something listens at the cluster's GCS address (``host:port``)."""
    host, _, port = address.split("://")[-1].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def check(compute: RayCompute, *, jobs: bool = False) -> None:
    """Refuse, in one line, a cluster that is gone, or (``jobs``) one without Ray's Jobs API."""
    direct = compute.address != "auto" and not compute.address.startswith("ray://")
    if direct and not gcs_answers(compute.address):
        raise ComputeTargetError(
            f"compute target '{compute.name}' does not answer: no Ray cluster at {compute.address} "
            f"(it stopped; start it again, or see ComputeTarget(ws, '{compute.name}').get_status())"
        )
    if jobs and not compute.dashboard:
        raise ComputeTargetError(
            f"compute target '{compute.name}' ({compute.kind}) runs no Ray Jobs API (its Ray dashboard is "
            "off): script runs need an AmlCompute target; provision one with "
            "AmlCompute.provisioning_configuration(...), or start the cluster with its dashboard on "
            "and attach it with AmlCompute.attach_configuration(address=...)"
        )


def check_node_count(compute: RayCompute, node_count: int) -> None:
    """v1's check of a ParallelRunConfig's ``node_count`` against the cluster's ``max_nodes``."""
    if compute.max_nodes is not None and not 1 <= node_count <= compute.max_nodes:
        raise InvalidInputError(
            f"node_count {node_count} is not between 1 and max_nodes {compute.max_nodes} of compute "
            f"target '{compute.name}'"
        )


def auth_headers(compute: RayCompute) -> dict[str, str]:
    """The HTTP header that carries the cluster's token to its Jobs API (none without a token)."""
    if not compute.token_file:
        return {}
    try:
        token = Path(compute.token_file).read_text().strip()
    except OSError as exc:
        raise ComputeTargetError(
            f"compute target '{compute.name}': cannot read its Ray token {compute.token_file}: {exc}"
        ) from None
    return {"Authorization": f"Bearer {token}"}


def connect(compute: RayCompute) -> None:
    """Make this process (a run's supervisor, which starts no other process while it is a
    driver) a driver of the cluster, with its token.

    Ray reads its auth settings from the environment, so they are set here for the process;
    a cluster on 127.0.0.1 also needs Ray to believe it is in a single-machine cluster, or it
    rewrites the address to this machine's network address, where such a cluster does not listen
    (``modelport.deploy.cluster`` explains both)."""
    for k in _AUTH_VARS:
        os.environ.pop(k, None)
    os.environ["RAY_AUTH_MODE"] = "token" if compute.token_file else "disabled"
    if compute.token_file:
        os.environ["RAY_AUTH_TOKEN_PATH"] = compute.token_file
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if compute.loopback:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray
    from ray._private import ray_constants
    from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]

    # Ray read its settings when it was imported: read again, with the token's.
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
    if compute.loopback:
        ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(
            address=compute.address,
            namespace="modelport",
            logging_level=logging.WARNING,
            log_to_driver=False,
            configure_logging=False,
            _node_ip_address=LOOPBACK if compute.loopback else None,
        )
    except Exception as exc:  # whatever Ray raises: the cluster could not be joined
        raise ComputeTargetError(
            f"cannot connect to the Ray cluster of compute target '{compute.name}' at {compute.address}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
