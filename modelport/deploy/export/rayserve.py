"""The Ray Serve application a KubeRay ``RayService`` runs: the Ray target's replica
(``modelport.server.ray_replica.ScoringReplica``, the local server's app) over the bundle baked
into the image.

``serveConfigV2``'s ``import_path`` names :func:`build` (an application builder: Serve calls it
with the config's ``args``), so the application is built in the cluster from the image's
``serve.json`` rather than pickled here. The deployment is named ``score``, as the Ray target's;
its replicas and resources come from the manifest's ``deployments`` entry (the service's
settings, rendered by :func:`modelport.deploy.export.manifests.kuberay`) over the Ray target's
own options (:func:`modelport.deploy.targets.ray.deployment_options`).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from modelport.deploy.export.dockerfile import IMAGE_ROOT, SERVE_FILE

__all__ = ["DEPLOYMENT", "IMPORT_PATH", "build", "replica_settings"]

IMPORT_PATH = "modelport.deploy.export.rayserve:build"
DEPLOYMENT = "score"
"""The Serve deployment's name, the Ray target's (``RayTarget._application``)."""
_PATHS = ("model_dir", "source_directory", "app_root", "keys_file", "log_file")


def replica_settings(bundle: Path) -> dict[str, Any]:
    """The scoring server's settings for a replica from the bundle's ``serve.json``, paths made
    absolute (the replica's working directory is Ray's, not the app root)."""
    bundle = Path(bundle)
    config = json.loads((bundle / SERVE_FILE).read_text())
    for key in _PATHS:
        if config.get(key) and not Path(config[key]).is_absolute():
            config[key] = str((bundle / config[key]).resolve())
    base = Path(config.get("source_directory") or config.get("app_root") or bundle / "app")
    config["entry_script"] = str(base / config["entry_script"])
    for key in ("cpu_affinity", "preload_modules", "host", "port"):
        config.pop(key, None)  # Ray places replicas and serves HTTP; no fork to share memory with
    config["workers"] = 1
    return config


def build(args: dict[str, Any] | None = None) -> Any:
    """The Serve application (``serve.Application``) for the bundle at ``args["bundle"]``
    (default the image's ``/srv/modelport``)."""
    from ray import serve

    from modelport.deploy.targets.ray import REPLICA_MODULE, deployment_options

    bundle = Path((args or {}).get("bundle") or IMAGE_ROOT)
    settings = replica_settings(bundle)
    options = deployment_options(json.loads((bundle / "bundle.json").read_text()).get("settings") or {})
    replica = importlib.import_module(REPLICA_MODULE).ScoringReplica
    deployment: Any = serve.deployment(name=DEPLOYMENT, **options)(replica)
    return deployment.bind(settings)
