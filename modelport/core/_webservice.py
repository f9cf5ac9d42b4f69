"""``Webservice`` and its v1 flavours: deployed services, from any process (v1's API; imported
from ``modelport.core.webservice``, beside ``AksEndpoint``).

A translation of v1's names onto the engine (``modelport.deploy.engine``); no logic of its own.
"""

from __future__ import annotations

import builtins
import dataclasses
import sys
import time
from typing import Any, cast

from modelport import keys as keyfile
from modelport.client import ServiceClient
from modelport.core._service_base import ServiceBase
from modelport.core._webservice_v1 import WebserviceV1
from modelport.core.environment import Environment
from modelport.core.inference import InferenceConfig, with_inference
from modelport.core.model import Model
from modelport.deploy import configs, engine, keywords, records
from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.records import ServiceState
from modelport.deploy.spec import DeploymentSpec, with_metadata
from modelport.errors import InvalidInputError, NotSupported
from modelport.workspace import Workspace

__all__ = ["AciWebservice", "AksWebservice", "LocalWebservice", "UnknownWebservice", "Webservice"]


class Webservice(ServiceBase, WebserviceV1, kinds=("",)):
    """A deployed service. ``Webservice(ws, name)`` works from any process.

    Example::

        service = Model.deploy(ws, "sklearn-mnist-svc", [model], inference_config, aciconfig)
        service.wait_for_deployment(show_output=True)
        y_hat = service.run(input_data=json.dumps({"data": rows}))
    """

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = records.check_service_name(name)
        self._record = engine.refresh(workspace, name)
        self._client: ServiceClient | None = None
        self._phases_shown = False
        self._notices_shown = False
        if type(self) is Webservice:  # as v1: Webservice(ws, name) is an AciWebservice, ...
            self.__class__ = cast(type[Webservice], self._class_of(self._record.compute_type))

    # -- attributes ----------------------------------------------------------------------------
    @property
    def _settings(self) -> DeploymentSettings:
        return self._record.spec.settings

    @property
    def state(self) -> str:
        """Transitioning, Healthy, Unhealthy, Failed or Deleting, as observed now."""
        self.update_deployment_state()
        return self._record.state.value

    @property
    def error(self) -> str | None:
        """Why the service is not Healthy; for a Healthy one, its last worker recycle, if any."""
        if self._record.error:
            return self._record.error
        events = engine.events(self._record)
        return events[-1] if events else None

    @property
    def port(self) -> int | None:
        return self._record.port

    @property
    def scoring_uri(self) -> str | None:
        return self._record.scoring_uri

    @property
    def swagger_uri(self) -> str | None:
        return self._record.swagger_uri

    @property
    def compute_type(self) -> str:
        return self._record.compute_type

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._settings.tags)

    @property
    def properties(self) -> dict[str, str]:
        return dict(self._settings.properties)

    @property
    def description(self) -> str | None:
        return self._settings.description

    @property
    def auth_enabled(self) -> bool:
        return self._settings.auth_enabled

    @property
    def token_auth_enabled(self) -> bool:
        return self._settings.token_auth_enabled

    @property
    def created_time(self) -> str | None:
        return self._record.created_time or None

    @property
    def updated_time(self) -> str | None:
        return self._record.updated_time or None

    @property
    def models(self) -> builtins.list[Any]:
        return [Model(self.workspace, id=model_id) for model_id in self._record.models]

    def update_deployment_state(self) -> None:
        self._record = engine.refresh(self.workspace, self.name)

    # -- lifecycle -----------------------------------------------------------------------------
    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """Wait until Healthy; raise DeploymentError with the cause (init()'s traceback, the build
        error) and a pointer to ``get_logs()``."""
        started = time.monotonic()
        out = sys.stdout
        if show_output:
            if not self._notices_shown:  # what the environment replaced, once per service object
                self._notices_shown = True
                for line in self.environment_notices():
                    print(f"  environment: {line}", file=out)
            if not self._phases_shown:
                for p in self._record.phases:
                    print(f"  {p['phase']} ({p['seconds']:.2f} s)", file=out)
            print("  waiting for init() ...", file=out, flush=True)
        try:
            self._record = engine.wait(self.workspace, self.name, timeout_sec)
        except Exception:
            self.update_deployment_state()
            raise
        if show_output:
            waited = time.monotonic() - started
            print(f"Healthy: {self.scoring_uri} (init() done after {waited:.2f} s of waiting)")

    def delete(self) -> None:
        """Stop the processes, free the port, remove the folder and the record. Safe to call twice."""
        engine.delete(self.workspace, self.name, missing_ok=True)
        self._record.set_state(ServiceState.DELETING, None)
        self._record.handle = None

    def restart(self) -> None:
        """Start the service again from its prepared folder, on the same port with the same keys."""
        self._record = engine.restart(self.workspace, self.name)
        self.wait_for_deployment()

    def reload(self) -> None:
        """Re-read the entry script (and source folder) and restart with zero downtime; same environment."""
        self.update()

    def update(
        self,
        models: builtins.list[Any] | None = None,
        inference_config: Any = None,
        tags: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
        deployment_config: DeploymentSettings | None = None,
        wait: bool = False,
        image: Any = None,
        image_config: Any = None,
        **settings: Any,
    ) -> None:
        """Change the service, as v1's ``update`` of its flavour: metadata (tags, properties,
        description) at once; anything else (models, inference_config, a new ``deployment_config``,
        or settings such as ``auth_enabled``, ``cpu_cores``, ``memory_gb``, ``scoring_timeout_ms``,
        ``token_auth_enabled``, ``enable_app_insights``, ``collect_model_data``, ``retention_days``)
        by a zero-downtime redeployment. ``wait=True`` waits until it is Healthy (LocalWebservice's
        keyword)."""
        if image is not None or image_config is not None:
            raise NotSupported(
                "update: container images are not used by modelport; "
                "pass inference_config=InferenceConfig(...) instead"
            )
        spec = self._record.spec
        current = spec.settings
        if deployment_config is not None:
            if not isinstance(deployment_config, DeploymentSettings):
                raise InvalidInputError("deployment_config must come from a deploy_configuration()")
            current = dataclasses.replace(
                deployment_config,
                port=current.port or deployment_config.port,
                tags=current.tags,
                properties=current.properties,
                description=current.description,
            )
        changed = configs.update_settings(current, settings)
        metadata = tags is not None or properties is not None or description is not None
        # Anything but metadata redeploys; nothing at all (reload()) too: the script read again.
        redeploy = (
            models is not None
            or inference_config is not None
            or deployment_config is not None
            or any(v is not None for v in settings.values())
            or not metadata
        )
        if models is not None:
            spec = dataclasses.replace(spec, models=tuple(m.id for m in models))
        if inference_config is not None:
            spec = with_inference(spec, inference_config)
        spec = with_metadata(
            dataclasses.replace(spec, settings=changed),
            tags=configs._str_dict("tags", tags) if tags is not None else None,
            properties=configs._str_dict("properties", properties) if properties is not None else None,
            description=description,
        )
        self._record = engine.update(self.workspace, self.name, spec, redeploy=redeploy)
        if wait:
            self.wait_for_deployment()

    # -- scoring -------------------------------------------------------------------------------
    def _service_client(self) -> ServiceClient:
        deployment = self._record.deployment_id
        if (
            self._client is None
            or self._client.scoring_uri != self._record.scoring_uri
            or (getattr(self._client, "_cache_key", None) != deployment)
        ):
            if self._client is not None:
                self._client.close()
            self._client = engine.client(self.workspace, self._record)
        return self._client

    def run(self, input_data: Any) -> Any:
        """POST ``input_data`` (bytes, str, a numpy array, or a JSON-able object) to the service;
        return its JSON.

        A numpy array goes as ``application/x-npy`` (no JSON at all) when the service declares an
        array input (``@array_input`` or a NumpyParameterType: its ``/swagger.json`` says so; asked
        once per deployment), else as JSON ``{"data": array.tolist()}``.

        A non-200 answer raises the error class the service raised (a ServiceCallError too, with
        the status and body); a service that does not answer raises ServiceUnavailable naming its
        state.
        """
        return self._service_client().score(input_data)

    def _array_input(self) -> dict[str, Any] | None:
        return self._service_client().array_input()

    # -- keys ----------------------------------------------------------------------------------
    def get_keys(self) -> tuple[str, str]:
        """(primary, secondary) keys; only where key auth is on."""
        if not self.auth_enabled:
            raise InvalidInputError(f"service '{self.name}' does not use key auth")
        keys = keyfile.read_keys(records.keys_path(self.workspace, self.name))
        return keys.primary_key, keys.secondary_key

    def get_key(self) -> str:
        """The primary key (the tutorial's comment calls this)."""
        return self.get_keys()[0]

    def regen_key(self, key: str, set_key: str | None = None) -> None:
        """Regenerate (or set) the 'Primary' or 'Secondary' key; takes effect without a restart."""
        if not self.auth_enabled:
            raise InvalidInputError(f"service '{self.name}' does not use key auth")
        engine.regenerate_key(self.workspace, self._record, key, set_key)

    def get_token(self) -> tuple[str, float]:
        """(token, refresh_after epoch seconds); only where token auth is on."""
        return engine.token(self.workspace, self._record)

    def export(
        self, output_directory: str, format: str | list[str] | None = "kubernetes", image: str | None = None
    ) -> Any:
        """Write a Docker build context of this service into ``output_directory``, plus manifests
        in ``output_directory/<format>/`` for each format (``kubernetes``, ``kserve``, ``kuberay``;
        several as a list or ``"kubernetes,kserve"``, prepared once; None: none). An AksEndpoint:
        a context per version in ``output_directory/<version>/``. See docs/export.md."""
        from modelport.deploy.export.service import export_service

        return export_service(self.workspace, self.name, output_directory, format, image=image)

    # -- logs and listing ----------------------------------------------------------------------
    def get_logs(self, num_lines: int = 5000, init: bool = False) -> str:
        """The service log's last ``num_lines`` lines (init=True: only the deployment's own lines)."""
        return engine.logs(self.workspace, self._record, num_lines, init)

    def environment_notices(self) -> builtins.list[str]:
        """What the service's environment replaced, one line each (empty when nothing was):
        ``scikit-learn==0.22.1 -> 1.1.3: 0.22.1 has no wheel for Python 3.11`` (see
        docs/environments.md, "Old pins")."""
        return engine.environment_notices(self._record)

    def get_traces(self, num: int = 100) -> builtins.list[dict[str, Any]]:
        """The last ``num`` request traces (``enable_app_insights=True``, kept locally): time,
        request id, method, path, status, latency, run() time and what run() printed."""
        return engine.traces(self._record, num)

    def serialize(self) -> dict[str, Any]:
        """A JSON-able description; never includes keys."""
        return {
            "name": self.name,
            "state": self._record.state.value,
            "error": self.error,
            "computeType": self.compute_type,
            "scoringUri": self.scoring_uri,
            "swaggerUri": self.swagger_uri,
            "models": list(self._record.models),
            "tags": self.tags,
            "properties": self.properties,
            "description": self.description,
            "authEnabled": self.auth_enabled,
            "tokenAuthEnabled": self.token_auth_enabled,
            "createdTime": self.created_time,
            "updatedTime": self.updated_time,
            "processes": engine.processes(self._record),
            **({"environmentNotices": notices} if (notices := self.environment_notices()) else {}),
            "workers": self._settings.workers,
            # v1's other keywords (TLS, probes, Kubernetes, Azure-only) as given, and the one line
            # saying which act nowhere here.
            **({"deploymentKeywords": given} if (given := keywords.given_keywords(self._settings)) else {}),
            **({"keywordNotice": said} if (said := keywords.deploy_notice(self._settings)) else {}),
        }

    @staticmethod
    def deploy_from_model(
        workspace: Workspace,
        name: str,
        models: builtins.list[Any],
        image_config: Any,
        deployment_config: DeploymentSettings | None = None,
        deployment_target: Any = None,
        overwrite: bool = False,
    ) -> Webservice:
        """2019-era v1: deploy ``models`` with a ``ContainerImage.image_configuration(...)`` (its
        execution script and conda file become an InferenceConfig; no image is built)."""
        from modelport.core.image import ContainerImageConfig

        if not isinstance(image_config, ContainerImageConfig):
            raise InvalidInputError("image_config must come from ContainerImage.image_configuration(...)")
        service: Webservice = Model.deploy(
            workspace,
            name,
            models,
            image_config.inference_config(),
            deployment_config,
            deployment_target,
            overwrite=overwrite,
        )
        return service

    @staticmethod
    def deploy_local_from_model(
        workspace: Workspace,
        name: str,
        models: builtins.list[Any],
        image_config: Any,
        deployment_config: DeploymentSettings | None = None,
        wait: bool = False,
    ) -> Webservice:
        """v1's local deployment from an image configuration: ``Model.deploy`` with the inference
        configuration ``image_config`` stands for (``ContainerImage.image_configuration(...)``)."""
        to_inference_config = getattr(image_config, "inference_config", None)
        if not callable(to_inference_config):
            raise InvalidInputError(
                "image_config must come from ContainerImage.image_configuration(...), or deploy with "
                "Model.deploy(ws, name, models, InferenceConfig(...))"
            )
        service: Webservice = Model.deploy(
            workspace,
            name,
            models,
            to_inference_config(),
            deployment_config or configs.local_configuration(),
            overwrite=True,
        )
        if wait:
            service.wait_for_deployment()
        return service

    @staticmethod
    def list(
        workspace: Workspace,
        compute_type: str | None = None,
        image_name: str | None = None,
        image_id: str | None = None,
        model_name: str | None = None,
        model_id: str | None = None,
        tags: Any = None,
        properties: Any = None,
        **_v1: Any,
    ) -> builtins.list[Webservice]:
        """Services matching every filter (tags/properties: ``key`` or ``[key, value]`` items)."""
        if image_name or image_id:
            raise InvalidInputError("images are not used by modelport; filter by model instead")
        found = engine.list_services(workspace, compute_type, model_name, model_id, tags, properties)
        return [Webservice._wrap(workspace, record) for record in found]

    @staticmethod
    def deploy_configuration(*args: Any, **kwargs: Any) -> DeploymentSettings:
        return configs.local_configuration(*args, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, state={self._record.state.value!r})"


class LocalWebservice(Webservice, kinds=("Local",)):
    # v1's state names of a local service, as the states modelport reports (``service.state``)
    STATE_DEPLOYING = ServiceState.TRANSITIONING.value
    STATE_RUNNING = ServiceState.HEALTHY.value
    STATE_FAILED = ServiceState.FAILED.value
    STATE_DELETED = ServiceState.DELETING.value
    STATE_UNKNOWN = ServiceState.UNHEALTHY.value
    NETWORK_NAME = None  # v1's Docker network: none here, a local service listens on 127.0.0.1

    def deploy_to_cloud(
        self,
        name: str | None = None,
        deployment_config: DeploymentSettings | None = None,
        deployment_target: Any = None,
    ) -> Webservice:
        """Deploy what this local service runs (its models and inference config) as another
        service, with ``deployment_config`` (an ACI or AKS configuration; default ACI's) and
        ``deployment_target`` (an AKS compute target). ``name`` defaults to this service's."""
        config = deployment_config if deployment_config is not None else configs.aci_configuration()
        spec = self._record.spec
        service: Webservice = Model.deploy(
            self.workspace,
            name or self.name,
            self.models,
            _recorded_inference_config(self.name, spec),
            config,
            deployment_target,
            overwrite=(name or self.name) == self.name,
        )
        return service

    @staticmethod
    def deploy_configuration(
        port: int | None = None,
        max_batch_size: int | None = None,
        max_batch_latency_ms: float | None = None,
        max_body_mb: float | None = None,
        collect_model_data: bool | None = None,
        retention_days: int | None = None,
        retention_mb: float | None = None,
    ) -> DeploymentSettings:
        """Deploy to this machine on ``port`` (a free one when None). ``max_batch_size`` (rows) turns
        on adaptive batching for a script whose run() takes one array (``@array_input``):
        concurrent requests share a run() call, waiting at most ``max_batch_latency_ms`` (default 5).
        ``max_body_mb`` (modelport's own, on every configuration) raises the 100 MB body limit.
        ``collect_model_data`` (v1's AKS setting, on every configuration here) lets the script's
        ModelDataCollector write; ``retention_days``/``retention_mb`` bound what it and request
        traces keep (docs/monitoring.md)."""
        return configs.local_configuration(
            port,
            max_batch_size,
            max_batch_latency_ms,
            max_body_mb,
            collect_model_data,
            retention_days,
            retention_mb,
        )


class AciWebservice(Webservice, kinds=("ACI",)):
    @staticmethod
    def deploy_configuration(*args: Any, **kwargs: Any) -> DeploymentSettings:
        """v1's ACI configuration, deployed locally: ``cpu_cores`` sets workers and CPU affinity,
        ``memory_gb`` recycles a worker that grows past its share, ``auth_enabled`` turns on keys."""
        return configs.aci_configuration(*args, **kwargs)


class AksWebservice(Webservice, kinds=("AKS",)):
    @staticmethod
    def deploy_configuration(*args: Any, **kwargs: Any) -> DeploymentSettings:
        """v1's AKS configuration, deployed locally with its replica count as workers (a warning says
        so); auth is on by default as on AKS."""
        return configs.aks_configuration(*args, **kwargs)


UnknownWebservice = Webservice
"""v1's class of a service of a type it did not know; here every service opens as its flavour."""


def _recorded_inference_config(name: str, spec: DeploymentSpec) -> InferenceConfig:
    """The InferenceConfig a service was deployed with (its script and source read again), with
    the environment it was deployed in."""
    if not spec.entry_script:
        raise InvalidInputError(f"service '{name}' has no inference config recorded; deploy it again")
    return InferenceConfig(
        entry_script=spec.entry_script,
        source_directory=spec.source_directory,
        environment=_recorded_environment(spec),
        description=spec.description,
        sample_input=spec.sample_input,
    )


def _recorded_environment(spec: DeploymentSpec) -> Environment | None:
    if spec.environment is None:
        return None
    environment = Environment.from_spec(spec.environment.to_dict())
    environment.environment_variables = dict(spec.environment_variables)
    return environment
