"""How a scoring server that forks its workers is sized on one machine: the local target's and a
container image's (Ray places one-worker replicas instead, and shares nothing by forking).

From a bundle: ``workers`` processes (the deployment's count), each recycled past its share of
``memory_gb``, and the libraries the supervisor imports once before forking.
"""

from __future__ import annotations

from dataclasses import replace

from modelport.deploy.bundle import ServiceBundle
from modelport.environments import EnvSpec
from modelport.servicefiles import ServerSettings

__all__ = ["forked", "preload_for"]


def preload_for(frameworks: tuple[str, ...], environment: EnvSpec | None) -> list[str] | None:
    """Libraries the supervisor imports once before forking workers: scikit-learn (and joblib) when
    a model says it is a scikit-learn model or the environment installs scikit-learn. Importing it
    is most of a worker's start (~1.7 s of ~2 s for the tutorial's model); preloaded, a replaced
    worker is back in ~0.05 s and workers share those pages. Nothing for other frameworks: some
    (TensorFlow, PyTorch's CUDA) do not survive a fork."""
    packages = [] if environment is None else [*environment.pip_packages, *environment.conda_packages]
    if any(f.lower() == "scikitlearn" for f in frameworks) or any(
        "scikit-learn" in p.lower() for p in packages
    ):
        return ["sklearn", "joblib"]
    return None


def forked(server: ServerSettings, bundle: ServiceBundle, workers: int | None = None) -> ServerSettings:
    """``server`` sized for forked workers: the deployment's worker count (or ``workers``), each
    with its share of the memory asked for, and the libraries to preload."""
    settings = bundle.spec.settings
    count = workers or settings.workers
    memory_mb = int(settings.memory_gb * 1024 / count) if settings.memory_gb else None
    return replace(
        server,
        workers=count,
        max_worker_memory_mb=memory_mb,
        preload_modules=preload_for(bundle.frameworks, bundle.spec.environment),
    )
