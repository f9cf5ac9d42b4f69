"""A run's environment on a Ray node that cannot see this machine's files (issue 25).

The environment's interpreter is a path of this machine; a node that does not see it gets the
same environment the way a Ray service's replica does (``modelport.deploy.ray_env``): Ray's
``uv`` runtime environment with the exact versions the environment was built with here (its
build record, :func:`modelport.environments.locked.locked_packages`), installed on the node into
a virtualenv over the node's own Python (which brings Ray) and cached by Ray on each node under
the list's hash; and modelport itself as a ``py_modules`` package, so the node runs this
machine's modelport whatever it has installed. An interpreter modelport did not build (no
environment: the cluster's Python; a user-managed one) has no list: a batch worker runs in the
node's own Python, with modelport shipped; a script run gets modelport's own requirements.

Which work takes this path is the caller's rule: a batch worker decides per node, by asking the
node first (:func:`probe_views`); a script run, whose node Ray picks only when the job starts,
takes it on every cluster but one modelport started without resources to pin it
(:mod:`modelport.jobs.ray.job`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import modelport

__all__ = [
    "PROBE_TIMEOUT_S",
    "modelport_package",
    "node_runtime_env",
    "packages_exist",
    "probe_views",
    "upload",
]

PROBE_TIMEOUT_S = 60.0
"""How long a node may take to answer :func:`probe_views` before it counts as not seeing us."""


def modelport_package() -> str:
    """The running modelport's source folder, as a ``py_modules`` entry."""
    return str(Path(modelport.__file__).resolve().parent)


def node_runtime_env(
    interpreter: str, env_vars: dict[str, str] | None = None, always_uv: bool = False
) -> dict[str, Any]:
    """The runtime environment that gives a node the environment at ``interpreter`` (see the
    module docstring): ``py_modules`` (modelport), ``uv`` (when modelport built it) and
    ``env_vars``. Ray uploads the ``py_modules`` package to the cluster's GCS once per content.
    ``always_uv``: a ``uv`` environment even for an interpreter modelport did not build, with
    modelport's own requirements (as a service without an environment gets), so that ``python``
    on a job's command line names an interpreter that runs modelport."""
    from modelport.environments.locked import locked_packages, modelport_requirements

    renv: dict[str, Any] = {"py_modules": [modelport_package()], "excludes": ["__pycache__/", "*.pyc"]}
    locked = locked_packages(interpreter) or ((modelport_requirements(), []) if always_uv else None)
    if locked is not None:
        packages, options = locked
        # uv's own cache on the node (Ray's default, --no-cache, downloads every environment again).
        renv["uv"] = {"packages": packages, "uv_pip_install_options": [*options, "--quiet"]}
    if env_vars:
        renv["env_vars"] = dict(env_vars)
    return renv


def upload(renv: dict[str, Any]) -> dict[str, Any]:
    """``renv`` with its ``py_modules`` uploaded to the cluster's GCS (once per content) and named
    by their ``gcs://`` URIs, as an actor's runtime environment requires (Ray uploads local folders
    itself only for a job's). The driver must be connected."""
    import tempfile

    from ray._private.runtime_env.py_modules import upload_py_modules_if_needed

    with tempfile.TemporaryDirectory(prefix="mp-ship-") as scratch:
        out = upload_py_modules_if_needed(dict(renv), include_gitignore=False, scratch_dir=scratch)
    out.pop("excludes", None)
    return dict(out)


def packages_exist(renv: dict[str, Any]) -> bool:
    """Whether the ``gcs://`` packages ``renv`` names are still in the cluster's GCS: Ray deletes
    one when nothing references it (a run's last worker gone), so a worker started later, a
    replacement, uploads it again first. The driver must be connected."""
    from ray.experimental.internal_kv import _internal_kv_exists

    uris = [renv.get("working_dir"), *(renv.get("py_modules") or [])]
    return all(_internal_kv_exists(u) for u in uris if isinstance(u, str) and u.startswith("gcs://"))


def _view() -> str:
    # The same reading as modelport.jobs.batch.executors.ship.fs_view. Ray runs it by reference
    # (this module): a node that cannot import this modelport fails the task, and that node
    # cannot see this machine's files anyway.
    import os

    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        mounts = os.readlink("/proc/self/ns/mnt")
        root = os.stat("/")
    except OSError:
        return ""
    return f"{boot} {mounts} {root.st_dev}:{root.st_ino}"


def probe_views(ray: Any, node_ids: list[str], timeout: float = PROBE_TIMEOUT_S) -> dict[str, str]:
    """Each node's file-system view (``ship.fs_view`` read there), by one tiny task pinned to it
    with no runtime environment and no CPU (it never waits behind the run's own workers); "" for
    a node that did not answer in time (it is treated as one that does not see this machine)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(num_cpus=0, max_retries=0)(_view)
    refs = {
        node: task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote()
        for node in node_ids
    }
    ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout)
    views: dict[str, str] = {}
    for node, ref in refs.items():
        try:
            views[node] = str(ray.get(ref, timeout=0)) if ref in ready else ""
        except Exception:  # a node that died, or failed the task: not one that sees us
            views[node] = ""
        if ref not in ready:
            ray.cancel(ref, force=True)
    return views
