"""What a Ray replica gets through Ray, and nothing by a path of the deploying machine.

A replica may run on any node of the cluster, and a node shares no file system with the machine
that deploys (docs/scale-out.md, "How a service reaches a node"). So the Ray target hands Ray
(except where a replica runs in place on this machine: ``modelport.deploy.targets.ray.in_place``;
its keys still come from the key-value store):

- the bundle's ``app/`` folder (the scoring script, the source folder, the models in v1's layout)
  as the replica's ``working_dir``: Ray zips it, stores it once in the cluster's GCS under its
  content hash, and each node downloads and unpacks it once, for every replica it runs (a model
  is one copy per node, not per replica). The replica's working directory is that folder, as
  ``AML_APP_ROOT`` is in v1. Ray refuses a package over its gRPC message limit (512 MiB in Ray
  2.60), so a bigger ``app/`` is refused here first, in one line (:func:`check_size`);
- modelport itself (the running package's source folder) as a ``py_modules`` package, shipped the
  same way, so a replica runs the deployer's modelport whatever the node has installed;
- the environment as Ray's ``uv`` runtime environment: the exact versions the environment was
  built with on the deploying machine (its build record, :func:`locked_requirements`), installed
  on the node into a virtualenv over the node's own Python (which runs Ray), cached per node by
  Ray under the list's hash: the first replica of an environment on a node builds it, the next
  ones (and the next deploys) reuse it;
- the server's settings with every path relative to the working directory
  (:func:`replica_settings`), and the service's keys in the cluster's key-value store (the GCS,
  :func:`publish_keys`), which replicas read (and re-read, so a regenerated key takes effect
  without a restart); never in a file on a node. Only a driver holding the cluster's token can
  read the store, and such a driver can run any code on the cluster anyway.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import modelport
from modelport.deploy.bundle import ServiceBundle
from modelport.environments.packages import canonical_name
from modelport.errors import InvalidInputError
from modelport.servicefiles import ServerSettings, ServiceKeys

__all__ = [
    "KEYS_NAMESPACE",
    "check_size",
    "keys_name",
    "locked_requirements",
    "publish_keys",
    "replica_settings",
    "runtime_env",
    "ship",
    "unpublish_keys",
]

KEYS_NAMESPACE = "modelport-keys"
"""The GCS key-value namespace holding services' keys (one entry a service, :func:`keys_name`)."""
_EXCLUDES = ["__pycache__/", "*.pyc"]


def package_limit() -> int:
    """The largest package Ray stores in its GCS (bytes): its gRPC message limit."""
    from ray._private.runtime_env.packaging import GCS_STORAGE_MAX_SIZE

    return int(GCS_STORAGE_MAX_SIZE)


def _size(folder: Path) -> int:
    total = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def check_size(bundle: ServiceBundle, limit: int | None = None) -> int:
    """The size of the bundle's ``app/`` (bytes); InvalidInputError when Ray cannot ship it."""
    limit = package_limit() if limit is None else limit
    size = _size(bundle.app_root)
    if size >= limit:
        raise InvalidInputError(
            f"service '{bundle.service}': its models and source folder ({size / 2**20:.0f} MB) pass the "
            f"{limit / 2**20:.0f} MB Ray ships to a node as one package; deploy it to a local target, "
            "or make the model smaller (docs/scale-out.md, 'Large models')"
        )
    return size


def locked_requirements(bundle: ServiceBundle) -> tuple[list[str], list[str]]:
    """(requirements, uv options) for the replica's environment on a node.

    The versions the environment was built with here (its build record), so every node installs
    what this machine tested; without a build record (no environment: modelport's scoring server
    alone, or a user-managed one), the environment's requirements and the server's."""
    from modelport.environments.locked import NOT_SHIPPED, installed_versions, pins, split_options
    from modelport.environments.requirements import SERVER_REQUIREMENTS

    spec = bundle.spec.environment
    options = split_options(spec.pip_options) if spec is not None else []
    installed = installed_versions(bundle.interpreter, spec.user_managed) if spec is not None else None
    if installed is not None:
        return pins(installed), options
    asked = [
        r for r in bundle.requirements if canonical_name(r.split("=")[0].split("[")[0]) not in NOT_SHIPPED
    ]
    return sorted({*asked, *SERVER_REQUIREMENTS}), options


def runtime_env(bundle: ServiceBundle, env_vars: Mapping[str, str]) -> dict[str, Any]:
    """The replica's Ray runtime environment (see the module docstring)."""
    check_size(bundle)
    packages, options = locked_requirements(bundle)
    return {
        "working_dir": str(bundle.app_root),
        "py_modules": [str(Path(modelport.__file__).resolve().parent)],
        "excludes": list(_EXCLUDES),
        # uv's own cache on the node (Ray's default is --no-cache: every environment downloaded
        # again); the environment itself is cached by Ray under the hash of this field.
        "uv": {"packages": packages, "uv_pip_install_options": [*options, "--quiet"]},
        "env_vars": dict(env_vars),
    }


def ship(renv: Mapping[str, Any]) -> dict[str, Any]:
    """``renv`` with its ``working_dir`` and ``py_modules`` uploaded to the cluster's GCS (once
    per content: a package already there is not sent again) and named by their ``gcs://`` URIs,
    as Serve requires of a deployment's runtime environment. The driver must be connected.
    .gitignore files are not followed: a source folder ignoring ``*.pkl`` still ships its model."""
    import tempfile

    from ray._private.runtime_env.py_modules import upload_py_modules_if_needed
    from ray._private.runtime_env.working_dir import upload_working_dir_if_needed

    with tempfile.TemporaryDirectory(prefix="mp-ship-") as scratch:
        out = upload_py_modules_if_needed(dict(renv), include_gitignore=False, scratch_dir=scratch)
        out = upload_working_dir_if_needed(out, include_gitignore=False, scratch_dir=scratch)
    out.pop("excludes", None)
    return dict(out)


def replica_settings(bundle: ServiceBundle, token_auth: bool) -> dict[str, Any]:
    """The scoring server's settings for a replica whose working directory is the bundle's
    ``app/`` on its node: every path relative to it. What lives outside ``app/`` on the deploying
    machine (request traces, collected model data, drift results, the keys file) is not given:
    a node cannot reach it."""
    raw = ServerSettings.from_json_file(bundle.server_file)
    app_root = bundle.app_root.resolve()
    settings = dataclasses.replace(
        raw,
        workers=1,
        keys_file=None,
        token_auth=token_auth,
        traces_file=None,
        model_data=None,
        monitoring_dir=None,
    )
    out = settings.to_dict(relative_to=app_root)
    out["app_root"] = "."
    for key in ("model_dir", "source_directory", "log_file", "ready_file", "status_file", "metrics_dir"):
        value = out.get(key)
        if value is not None and Path(value).is_absolute():
            raise InvalidInputError(f"service '{bundle.service}': {key} {value} is outside the bundle's app/")
    return out


def keys_name(service: str) -> bytes:
    """The key-value entry holding ``service``'s keys."""
    return f"service/{service}".encode()


def publish_keys(service: str, keys_file: Path | None) -> bool:
    """Put the service's keys (its 0600 keys file here) in the cluster's key-value store, where
    its replicas read them; False when the service has no keys. The driver must be connected."""
    from ray.experimental.internal_kv import _internal_kv_put

    if keys_file is None:
        return False
    keys = ServiceKeys.from_json(Path(keys_file).read_bytes())
    _internal_kv_put(keys_name(service), keys.to_json().encode(), overwrite=True, namespace=KEYS_NAMESPACE)
    return True


def unpublish_keys(service: str) -> None:
    from ray.experimental.internal_kv import _internal_kv_del

    _internal_kv_del(keys_name(service), namespace=KEYS_NAMESPACE)
