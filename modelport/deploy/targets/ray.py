"""The Ray target: a service bundle as one Ray Serve application on a workspace's Ray cluster.

The handle is ``{"app", "compute", "workspace", "address", "http_port", "root", "runtime_env",
"in_place", "keys"}``: the Serve application's name (the service's), the compute target
(``modelport.deploy.cluster``) and where its cluster answers, the bundle folder, the runtime
environment its replicas were given and whether they run in place, and the name of its keys in
the cluster's key-value store. An endpoint's router (:meth:`RayTarget.route`) has a handle of
the same cluster with ``"router": true`` and its ``"versions"`` (each version's application,
share and roles).

Replicas run ``modelport.server.ray_replica.ScoringReplica`` (the local server's app, protocols
and runtime). Two paths (docs/scale-out.md, "Which path a service takes"):

- **shipped** (every attached cluster, and any target with ``replica_resources``): replicas get
  everything through Ray (``modelport.deploy.ray_env``): the bundle's ``app/`` as their working
  directory, modelport as a ``py_modules`` package, the environment as Ray's ``uv`` runtime
  environment built and cached on each node. Nothing is read by a path of this machine, so a
  node needs no shared file system.
- **in place** (:func:`in_place`: a cluster modelport started itself, which listens on 127.0.0.1
  only so every node of it is this machine, and no ``replica_resources``): replicas run the
  service's environment interpreter built here (``runtime_env={"py_executable": ...}``) and read
  the bundle where it is, with request traces, collected model data and drift gauges as a local
  service has them. A measured optimisation (no upload, no environment built again by Ray).

The keys are in the cluster's key-value store on both paths. A compute target attached with
``replica_resources`` (``AksCompute.attach_configuration``) places every replica on nodes
offering those Ray resources. What a service asks of AKS maps onto Serve's deployment options
(:func:`deployment_options`).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelport import _settings
from modelport.deploy import cluster, ray_env
from modelport.deploy._files import tail
from modelport.deploy.bundle import ServiceBundle
from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.reconcile import Observation
from modelport.deploy.targets.base import Endpoint, EndpointVersion, Handle, Runtime
from modelport.environments.ray_check import SERVE, ray_problem
from modelport.errors import DeploymentError, EnvironmentBuildError, InvalidInputError

__all__ = ["RayTarget", "deployment_options", "in_place", "route_prefix"]

REPLICA_MODULE = "modelport.server.ray_replica"
REPLICA_RAY_ENV = {"RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0"}
"""Serve runs a replica's code on an event loop of its own thread by default, so each request
crossed three threads (Serve's loop, that loop, modelport's run thread) before run() and three
back. modelport's app never blocks its loop (run() has its own thread), so it runs on Serve's
loop: 20-40% more single-row requests/s (docs/performance.md, "Ray Serve")."""


def route_prefix(service: str) -> str:
    """AKS's scoring URI shape: ``/api/v1/service/<name>`` (``/score`` under it)."""
    return f"/api/v1/service/{service}"


def deployment_options(settings: DeploymentSettings) -> dict[str, Any]:
    """v1's AKS settings as Serve deployment options.

    ``num_replicas`` fixes the count; with ``autoscale_enabled`` Serve scales between
    ``autoscale_min_replicas`` and ``autoscale_max_replicas``, aiming at
    ``autoscale_target_utilization`` percent of ``replica_max_concurrent_requests`` per replica
    (AKS's meaning), reacting after ``autoscale_refresh_seconds`` (up, and down after 3x that:
    Serve's own defaults, 30 s up and 600 s down, are far slower than AKS's 1 s refresh).
    ``cpu_cores`` and ``memory_gb`` become the replica's Ray resources.
    """
    per_replica = settings.max_concurrent_requests or 1
    options: dict[str, Any] = {
        "max_ongoing_requests": max(per_replica, 1) * 4,  # queue a few in the replica, as AKS's 503s late
        "ray_actor_options": {"num_cpus": float(settings.cpu_cores or 0.1)},
        "health_check_period_s": 2.0,
        "graceful_shutdown_timeout_s": 10.0,
        # A replica whose init() raises is retried this often before the application is
        # DEPLOY_FAILED (Serve's default retries far longer before wait_for_deployment can say why).
        "max_constructor_retry_count": 2,
    }
    if settings.memory_gb:
        options["ray_actor_options"]["memory"] = int(settings.memory_gb * 1024**3)
    if settings.gpu_cores:  # v1's gpu_cores: GPUs per replica
        options["ray_actor_options"]["num_gpus"] = float(settings.gpu_cores)
    if settings.autoscale_enabled:
        refresh = float(settings.autoscale_refresh_seconds or 1)
        utilization = float(settings.autoscale_target_utilization or 70) / 100
        options["autoscaling_config"] = {
            "min_replicas": settings.autoscale_min_replicas or 1,
            "max_replicas": settings.autoscale_max_replicas or 10,
            "target_ongoing_requests": max(per_replica * utilization, 0.1),
            "upscale_delay_s": refresh,
            "downscale_delay_s": refresh * 3,
            "metrics_interval_s": min(refresh, 10.0),
            "look_back_period_s": max(refresh * 2, 2.0),
        }
    else:
        options["num_replicas"] = settings.num_replicas or settings.workers or 1
    return options


def _check_gpus(wanted: int | None, compute: str) -> None:
    """A replica asking for more GPUs than the cluster has would wait for them forever: say so."""
    if not wanted:
        return
    import ray

    have = int(ray.cluster_resources().get("GPU", 0))
    if wanted > have:
        raise InvalidInputError(
            f"gpu_cores={wanted}: the Ray cluster of AKS compute '{compute}' has {have} GPU(s); "
            "a replica would wait for them forever"
        )


def _workspace_of(bundle: ServiceBundle) -> Path:
    """The workspace folder: a bundle is ``<workspace>/services/<service>/<deployment id>/``."""
    return bundle.root.resolve().parents[2]


def _connect(handle: Handle) -> None:
    """Be a driver of the cluster a handle names, with that cluster's token."""
    cluster.connect(cluster.load(Path(handle["workspace"]), handle["compute"]))


def in_place(record: cluster.ClusterRecord) -> bool:
    """Whether a service on this compute target may run in place (the module docstring): the
    cluster is one modelport started (its nodes are on this machine, it listens on 127.0.0.1
    only) and the target pins replicas to no resource (a pin stands for a node pool that may be
    elsewhere, and the isolated-node tests pin to prove the shipped path)."""
    return bool(record.owned) and not record.settings.get("replica_resources")


def _local_interpreter(bundle: ServiceBundle) -> str | None:
    """The bundle's interpreter for a replica in place, with Ray added (a cached environment of
    its own) when it lacks it; None when that cannot be (no environment, or a user-managed one,
    without Ray): such a service is shipped, its versions installed by Ray over the node's Python."""
    import ray

    problem = ray_problem(bundle.interpreter, ray.__version__, SERVE)
    if problem is None:
        return bundle.interpreter
    spec = bundle.spec.environment
    if spec is None or spec.user_managed:
        bundle.log(f"{problem}: the environment is shipped to the cluster with Ray added")
        return None
    from modelport.environments import resolve_interpreter

    bundle.log(f"adding {cluster.ray_requirement()} to the environment for Ray Serve")
    python = str(
        resolve_interpreter(
            spec, _settings.env_cache_root(), log=bundle.log, extra_requirements=(cluster.ray_requirement(),)
        )
    )
    problem = ray_problem(python, ray.__version__, SERVE)
    if problem is not None:
        raise EnvironmentBuildError(problem)
    return python


class RayTarget:
    """Runs bundles as Ray Serve applications (see the module docstring)."""

    name = "ray"
    start_phase = "Serve application submitted to the Ray cluster"
    """What :meth:`start` did (the deployment log's phase): replicas start after it returns."""

    def _cluster(self, bundle: ServiceBundle) -> tuple[Path, cluster.ClusterRecord]:
        compute = bundle.spec.settings.compute_target
        if not compute:
            raise InvalidInputError(
                "a Ray deployment needs a compute target: Model.deploy(..., deployment_target=AksCompute)"
            )
        ws = _workspace_of(bundle)
        return ws, cluster.load(ws, compute)

    def _application(self, bundle: ServiceBundle, runtime: Runtime, record: cluster.ClusterRecord) -> Any:
        from ray import serve

        replica = importlib.import_module(REPLICA_MODULE).ScoringReplica  # see the module docstring
        # One worker per replica: Ray places replicas and their CPUs; nothing is shared by forking.
        # memory_gb is the replica's Ray `memory` resource, not also the server's recycle limit: a
        # replica process carries Ray's own core worker (~150-200 MB), so AKS's default 0.5 GB
        # recycled it on every 10,000-row request; Ray's memory monitor guards the node instead.
        env_vars = {**bundle.spec.environment_variables, "PYTHONUNBUFFERED": "1", **REPLICA_RAY_ENV}
        options = deployment_options(bundle.spec.settings)
        interpreter = _local_interpreter(bundle) if in_place(record) else None
        renv: dict[str, Any]
        if interpreter is not None:
            bundle.log(f"replicas run in place on this machine's cluster, in {interpreter}")
            # Every path absolute, read where it is; the keys come from the key-value store.
            server = dataclasses.replace(
                bundle.server_settings(), workers=1, keys_file=None, token_auth=runtime.token_auth
            )
            settings = server.to_dict()
            renv = {"py_executable": interpreter, "env_vars": env_vars}
        else:
            settings = ray_env.replica_settings(bundle, runtime.token_auth)
            renv = ray_env.ship(ray_env.runtime_env(bundle, env_vars))
        options["ray_actor_options"]["runtime_env"] = renv
        resources = record.settings.get("replica_resources")
        if resources:
            options["ray_actor_options"]["resources"] = dict(resources)
        keys = None
        if runtime.keys_file is not None:
            keys = {
                "namespace": ray_env.KEYS_NAMESPACE,
                "name": ray_env.keys_name(runtime.keys_file.stem).decode(),
            }
        deployment: Any = serve.deployment(name="score", **options)(replica)
        return deployment.bind(settings, None, keys), renv

    def _run(self, bundle: ServiceBundle, runtime: Runtime) -> Handle:
        # serve.run without waiting: readiness is observed (serve.run would block on a replica
        # that never starts). Private, so the ray extra pins Ray exactly.
        from ray.serve.api import RunTarget, _run_many

        ws, record = self._cluster(bundle)
        if bundle.spec.settings.ssl_enabled:
            # Refused rather than accepted: the service would be plain HTTP while its user believes
            # it is TLS. Ray Serve's TLS (HTTPOptions ssl_certfile/ssl_keyfile) is the proxy's, set
            # once for the whole cluster when Serve starts, not per application.
            raise InvalidInputError(
                f"ssl_enabled=True on AKS compute '{record.name}': its Ray Serve proxy serves every "
                "service over plain HTTP (Ray sets TLS once per cluster, not per service); deploy "
                "without deployment_target to serve TLS locally, or terminate TLS in front of the cluster"
            )
        if record.http_port is None or not record.owned:
            record = cluster.attach_serve(record)
            cluster.save(ws, record)
        cluster.connect(record)
        _check_gpus(bundle.spec.settings.gpu_cores, record.name)
        app, renv = self._application(bundle, runtime, record)
        if runtime.keys_file is not None:
            ray_env.publish_keys(runtime.keys_file.stem, runtime.keys_file)
        # Always with a name: serve.run without one deletes every other application.
        with cluster.quiet_serve():
            _run_many(
                [RunTarget(target=app, name=runtime.service, route_prefix=route_prefix(runtime.service))],
                wait_for_ingress_deployment_creation=False,
                wait_for_applications_running=False,
            )
        bundle.log(f"Serve application '{runtime.service}' submitted to the Ray cluster at {record.address}")
        return {
            "app": runtime.service,
            "compute": record.name,
            "workspace": str(ws),
            "address": record.address,
            "http_port": record.http_port,
            "root": str(bundle.root),
            "runtime_env": {k: v for k, v in renv.items() if k != "env_vars"},
            "in_place": "py_executable" in renv,
            "keys": runtime.keys_file.stem if runtime.keys_file is not None else None,
        }

    def start(self, bundle: ServiceBundle, runtime: Runtime) -> Handle:
        if runtime.port is not None:
            raise InvalidInputError(
                "port is not used on an AKS compute target: services share the cluster's HTTP port"
            )
        return self._run(bundle, runtime)

    def _status(self, handle: Handle) -> Any:
        from ray import serve

        _connect(handle)
        return serve.status().applications.get(handle["app"])

    def observe(self, handle: Handle) -> Observation:
        if handle.get("router"):
            return self._observe_endpoint(handle)
        try:
            app = self._status(handle)
        except Exception as exc:  # the cluster itself is gone
            return Observation(running=False, failed=True, reason=f"the Ray cluster does not answer: {exc}")
        if app is None:
            return Observation(running=False, failed=True, reason="the Serve application is gone")
        status = str(getattr(app.status, "value", app.status))
        if status == "RUNNING":
            unrouted = self._unrouted(handle)
            if unrouted is not None:
                # Serve says RUNNING once the replicas are; its ingress learns the route a moment
                # later, and until then the scoring URI answers 404 (seen on a busy machine).
                return Observation(
                    running=True,
                    ready=False,
                    reason=f"waiting for Serve's HTTP proxy to route it ({unrouted})",
                )
            return Observation(running=True, ready=True)
        if status == "DEPLOY_FAILED":
            return Observation(running=True, failed=True, reason=self._reason(app))
        if status == "UNHEALTHY":
            return Observation(running=True, ready=False, reason=self._reason(app))
        return Observation(running=True, ready=False, reason=(app.message or status))

    def _unrouted(self, handle: Handle) -> str | None:
        """None once a request to the service's URI reaches one of its replicas through the
        cluster's ingress: the proxy lists the prefix (``/-/routes``) and the app's readiness
        route answers as the app does (200, or 401/403 when it wants a key: it got there). Else
        what the ingress answered, for the wait's reason."""
        import requests

        base = f"http://{cluster.HOST}:{handle['http_port']}"
        prefix = route_prefix(handle["app"])
        try:
            answer = requests.get(f"{base}/-/routes", timeout=5)
            routes = answer.json() if answer.status_code == 200 else {}
            if not (isinstance(routes, dict) and routes.get(prefix) == handle["app"]):
                return f"{base}/-/routes answers {answer.status_code} without {prefix}"
            # The routes are HAProxy's once it has the application; it sends requests to Serve's
            # fallback proxy (which answers 404) until it also has the replicas' addresses:
            # measured on a busy machine, a token test got 404 right after the routes listed it.
            ready = requests.get(f"{base}{prefix}/health/ready", timeout=5).status_code
            return None if ready in (200, 401, 403) else f"{prefix}/health/ready answers {ready}"
        except (requests.RequestException, ValueError) as exc:
            return f"the ingress at {base} does not answer: {type(exc).__name__}"

    def _observe_endpoint(self, handle: Handle) -> Observation:
        """An endpoint is ready when its router and every version are; failed when one failed."""
        router = self.observe({**handle, "router": False})
        if not router.ready:
            return router
        for version, info in handle["versions"].items():
            seen = self.observe({**handle, "router": False, "app": info["app"]})
            if not seen.ready:
                reason = f"version {version}: {seen.reason or 'starting'}"
                return Observation(running=seen.running, ready=False, failed=seen.failed, reason=reason)
        return router

    def route(
        self, name: str, versions: Mapping[str, EndpointVersion], handles: Mapping[str, Handle]
    ) -> Handle:
        """Deploy (or update) an endpoint's router, on the default version's cluster and with its
        modelport and environment, over the versions' applications."""
        from ray.serve.api import RunTarget, _run_many

        default = next(v for v, info in versions.items() if info.default)
        base = handles[default]
        table = {
            v: {
                "app": info.service,
                "traffic": info.traffic,
                "default": info.default,
                "control": info.control,
            }
            for v, info in versions.items()
        }
        handle = {k: base[k] for k in ("compute", "workspace", "address", "http_port")}
        handle.update(app=name, router=True, versions=table)
        router = importlib.import_module(REPLICA_MODULE).EndpointRouter
        _connect(handle)
        shipped = base.get("runtime_env") or {}
        renv = {k: shipped[k] for k in ("py_executable", "py_modules", "excludes", "uv") if k in shipped}
        app = router.options(ray_actor_options={"num_cpus": 0.1, "runtime_env": renv}).bind(table)
        with cluster.quiet_serve():
            _run_many(
                [RunTarget(target=app, name=name, route_prefix=route_prefix(name))],
                wait_for_ingress_deployment_creation=False,
                wait_for_applications_running=False,
            )
        return handle

    def routes(self, handle: Handle) -> dict[str, EndpointVersion]:
        if not handle.get("router"):
            return {}
        return {
            v: EndpointVersion(
                service=str(info["app"]),
                traffic=float(info.get("traffic") or 0),
                default=bool(info.get("default")),
                control=bool(info.get("control")),
            )
            for v, info in handle["versions"].items()
        }

    @staticmethod
    def _reason(app: Any) -> str:
        parts = [app.message] if app.message else []
        for name, dep in (app.deployments or {}).items():
            if dep.message:
                parts.append(f"deployment {name}: {dep.message}")
        return "\n".join(parts) or str(app.status)

    def replicas(self, handle: Handle) -> dict[str, int]:
        """Replica counts by state (``RUNNING``, ``STARTING``, ...), as Serve reports them."""
        app = self._status(handle)
        if app is None:
            return {}
        dep = app.deployments.get("score")
        if dep is None:
            return {}
        states = (dep.replica_states or {}).items()
        return {str(getattr(k, "value", k)): int(v) for k, v in states if v}

    def stop(self, handle: Handle) -> None:
        from ray import serve

        try:
            _connect(handle)
            with cluster.quiet_serve():
                serve.delete(handle["app"], _blocking=True)
            if handle.get("keys") == handle["app"]:  # an endpoint version's are the endpoint's
                ray_env.unpublish_keys(handle["app"])
        except Exception:  # the cluster is gone: nothing runs there any more
            pass

    def publish_keys(self, handle: Handle, keys_file: Path) -> None:
        """A service's keys changed here (``regen_key``): its replicas read them from the
        cluster's key-value store within a second, without a restart."""
        _connect(handle)
        ray_env.publish_keys(keys_file.stem, keys_file)

    def endpoint(self, handle: Handle) -> Endpoint:
        base = f"http://{cluster.HOST}:{handle['http_port']}{route_prefix(handle['app'])}"
        return Endpoint(f"{base}/score", f"{base}/swagger.json")

    def logs(self, handle: Handle, num_lines: int) -> str:
        parts = [tail(Path(handle["root"]) / "service.log", num_lines)] if handle.get("root") else []
        try:
            record = cluster.load(Path(handle["workspace"]), handle["compute"])
        except Exception:
            record = None
        if record is not None and record.temp_dir:
            logs = Path(record.temp_dir) / "session_latest" / "logs" / "serve"
            for path in sorted(logs.glob(f"replica_{handle['app']}_*.log")):
                parts.append(tail(path, num_lines))
        text = "\n".join(p for p in parts if p)
        return "\n".join(text.splitlines()[-num_lines:])

    def replace(self, old: Handle, bundle: ServiceBundle, runtime: Runtime, timeout: float) -> Handle:
        """Serve updates an application in place, starting new replicas before stopping old ones;
        if the new version does not get ready, the old bundle is deployed again."""
        import time

        new = self._run(bundle, runtime)
        deadline = time.monotonic() + timeout
        while True:
            seen = self.observe(new)
            if seen.ready:
                return new
            if seen.failed or time.monotonic() > deadline:
                cause = seen.reason or f"not ready after {timeout:.0f} s"
                try:
                    self._run(ServiceBundle.load(old["root"]), runtime)
                except Exception:  # the old bundle is gone too: say what failed first
                    pass
                raise DeploymentError(
                    runtime.service,
                    "Failed",
                    f"the replacement did not start, the old one was restored: {cause}",
                )
            time.sleep(0.25)
