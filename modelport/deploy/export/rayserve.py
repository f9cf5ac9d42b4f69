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
from dataclasses import replace
from pathlib import Path
from typing import Any

from modelport.deploy.bundle import ServiceBundle
from modelport.deploy.export.dockerfile import IMAGE_ROOT, SERVE_FILE
from modelport.servicefiles import ServerSettings

__all__ = ["DEPLOYMENT", "IMPORT_PATH", "build", "replica_settings"]

IMPORT_PATH = "modelport.deploy.export.rayserve:build"
DEPLOYMENT = "score"
"""The Serve deployment's name, the Ray target's (``RayTarget._application``)."""


def replica_settings(bundle: Path) -> ServerSettings:
    """The scoring server's settings for a replica from the bundle's ``serve.json``, every path
    absolute (the replica's working directory is Ray's, not the app root), one worker, nothing
    preloaded, pinned or bound: Ray places replicas and serves HTTP; no fork shares memory."""
    served = ServerSettings.from_json_file(Path(bundle) / SERVE_FILE)
    defaults = ServerSettings(entry_script=served.entry_script)
    return replace(
        served,
        entry_script=served.script_path(),
        workers=1,
        cpu_affinity=None,
        preload_modules=None,
        host=defaults.host,
        port=defaults.port,
    )


def build(args: dict[str, Any] | None = None) -> Any:
    """The Serve application (``serve.Application``) for the bundle at ``args["bundle"]``
    (default the image's ``/srv/modelport``)."""
    from ray import serve

    from modelport.deploy.targets.ray import REPLICA_MODULE, deployment_options

    bundle = Path((args or {}).get("bundle") or IMAGE_ROOT)
    settings = replica_settings(bundle)
    options = deployment_options(ServiceBundle.load(bundle).spec.settings)
    replica = importlib.import_module(REPLICA_MODULE).ScoringReplica
    deployment: Any = serve.deployment(name=DEPLOYMENT, **options)(replica)
    return deployment.bind(settings.to_dict())
