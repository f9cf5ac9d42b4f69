"""v1's ``AksEndpoint``: versions of a service behind one scoring URI, split by traffic.

Example::

    config = AksEndpoint.deploy_configuration(version_name="blue", traffic_percentile=100)
    endpoint = Model.deploy(ws, "mnist-ep", [model], inference_config, config, deployment_target=aks)
    endpoint.wait_for_deployment()
    endpoint.create_version("green", models=[model2], inference_config=ic2, traffic_percentile=20)
    endpoint.update_version("green", traffic_percentile=50)
    endpoint.delete_version("green")

Each version runs as its own Ray service; the endpoint's router sends each non-default version
its ``traffic_percentile`` of the requests and the default version the rest. A request with the
header ``azureml-model-deployment: <version>`` goes to that version, and every answer names the
version that served it in the same header.
"""

from __future__ import annotations

import builtins
import dataclasses
from typing import Any

from modelport.core._webservice import AksWebservice, Webservice
from modelport.core.inference import deployment_spec, with_inference
from modelport.deploy import configs, endpoints, engine
from modelport.deploy.configs import AksEndpointDeploymentConfiguration
from modelport.deploy.spec import DeploymentSpec
from modelport.errors import InvalidInputError

__all__ = ["AksEndpoint", "AksEndpointDeploymentConfiguration"]


class AksEndpoint(AksWebservice, kinds=("endpoint",)):
    """An endpoint with versions on an AKS compute target (a Ray cluster)."""

    @staticmethod
    def deploy_configuration(
        autoscale_enabled: bool | None = None,
        autoscale_min_replicas: int | None = None,
        autoscale_max_replicas: int | None = None,
        autoscale_refresh_seconds: int | None = None,
        autoscale_target_utilization: int | None = None,
        collect_model_data: bool | None = None,
        auth_enabled: bool | None = None,
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        enable_app_insights: bool | None = None,
        scoring_timeout_ms: int | None = None,
        replica_max_concurrent_requests: int | None = None,
        max_request_wait_time: int | None = None,
        num_replicas: int | None = None,
        tags: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
        version_name: str | None = None,
        traffic_percentile: float | None = None,
        token_auth_enabled: bool | None = None,
        **cloud_only: Any,
    ) -> AksEndpointDeploymentConfiguration:
        """v1's endpoint configuration: the AKS settings, and the first version (its name)."""
        if not version_name:
            raise InvalidInputError("AksEndpoint.deploy_configuration needs version_name (the first version)")
        settings = configs.aks_configuration(
            autoscale_enabled=autoscale_enabled,
            autoscale_min_replicas=autoscale_min_replicas,
            autoscale_max_replicas=autoscale_max_replicas,
            autoscale_refresh_seconds=autoscale_refresh_seconds,
            autoscale_target_utilization=autoscale_target_utilization,
            auth_enabled=auth_enabled,
            token_auth_enabled=token_auth_enabled,
            cpu_cores=cpu_cores,
            memory_gb=memory_gb,
            scoring_timeout_ms=scoring_timeout_ms,
            replica_max_concurrent_requests=replica_max_concurrent_requests,
            max_request_wait_time=max_request_wait_time,
            num_replicas=num_replicas,
            tags=tags,
            properties=properties,
            description=description,
            collect_model_data=collect_model_data,
            enable_app_insights=enable_app_insights,
            **cloud_only,
        )
        return AksEndpointDeploymentConfiguration(
            **{f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)},
            version_name=version_name,
            traffic_percentile=endpoints._percent(traffic_percentile),
        )

    @property
    def versions(self) -> dict[str, Webservice]:
        """The endpoint's versions: name -> the service running it."""
        self.update_deployment_state()
        found = engine.routes(self._record)
        return {v: Webservice(self.workspace, info.service) for v, info in found.items()}

    @property
    def default_version(self) -> str | None:
        found = engine.routes(self._record)
        return next((v for v, info in found.items() if info.default), None)

    def traffic(self) -> dict[str, float]:
        """Each version's traffic_percentile as routed now (the default's is what remains)."""
        found = engine.routes(self._record)
        shares = {v: info.traffic for v, info in found.items() if not info.default}
        default = self.default_version
        if default is not None:
            shares[default] = max(0.0, 100.0 - sum(shares.values()))
        return shares

    def create_version(
        self,
        version_name: str,
        autoscale_enabled: bool | None = None,
        autoscale_min_replicas: int | None = None,
        autoscale_max_replicas: int | None = None,
        autoscale_refresh_seconds: int | None = None,
        autoscale_target_utilization: int | None = None,
        collect_model_data: bool | None = None,
        cpu_cores: float | None = None,
        memory_gb: float | None = None,
        scoring_timeout_ms: int | None = None,
        replica_max_concurrent_requests: int | None = None,
        max_request_wait_time: int | None = None,
        num_replicas: int | None = None,
        models: builtins.list[Any] | None = None,
        inference_config: Any = None,
        gpu_cores: int | None = None,
        period_seconds: int | None = None,
        initial_delay_seconds: int | None = None,
        timeout_seconds: int | None = None,
        success_threshold: int | None = None,
        failure_threshold: int | None = None,
        traffic_percentile: float | None = None,
        is_default: bool | None = None,
        is_control_version_type: bool | None = None,
        cpu_cores_limit: float | None = None,
        memory_gb_limit: float | None = None,
        tags: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        """Deploy a new version (waits until it is Healthy) and route its share to it."""
        if not models or inference_config is None:
            raise InvalidInputError("create_version needs models and inference_config")
        settings = configs.aks_configuration(
            autoscale_enabled=autoscale_enabled,
            autoscale_min_replicas=autoscale_min_replicas,
            autoscale_max_replicas=autoscale_max_replicas,
            autoscale_refresh_seconds=autoscale_refresh_seconds,
            autoscale_target_utilization=autoscale_target_utilization,
            cpu_cores=cpu_cores,
            memory_gb=memory_gb,
            scoring_timeout_ms=scoring_timeout_ms,
            replica_max_concurrent_requests=replica_max_concurrent_requests,
            max_request_wait_time=max_request_wait_time,
            num_replicas=num_replicas,
            tags=tags,
            properties=properties,
            description=description,
            collect_model_data=collect_model_data,
            gpu_cores=gpu_cores,
            period_seconds=period_seconds,
            initial_delay_seconds=initial_delay_seconds,
            timeout_seconds=timeout_seconds,
            success_threshold=success_threshold,
            failure_threshold=failure_threshold,
            cpu_cores_limit=cpu_cores_limit,
            memory_gb_limit=memory_gb_limit,
        )
        spec = deployment_spec([m.id for m in models], inference_config, settings)
        self._record = endpoints.add_version(
            self.workspace,
            self.name,
            version_name,
            spec,
            traffic_percentile,
            is_default,
            is_control_version_type,
        )

    def update_version(
        self,
        version_name: str,
        autoscale_enabled: bool | None = None,
        num_replicas: int | None = None,
        models: builtins.list[Any] | None = None,
        inference_config: Any = None,
        traffic_percentile: float | None = None,
        is_default: bool | None = None,
        is_control_version_type: bool | None = None,
        tags: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
        **unsupported: Any,
    ) -> None:
        """Change a version's traffic share, make it the default, or redeploy it with new models
        or inference config (zero downtime)."""
        given = sorted(
            k
            for k, v in {
                **unsupported,
                "autoscale_enabled": autoscale_enabled,
                "num_replicas": num_replicas,
            }.items()
            if v is not None
        )
        if given:
            raise InvalidInputError(
                f"update_version: {', '.join(given)} not supported; create a version with the new settings"
            )
        change = None
        if models is not None or inference_config is not None:

            def change(spec: DeploymentSpec) -> DeploymentSpec:
                if models is not None:
                    spec = dataclasses.replace(spec, models=tuple(m.id for m in models))
                return with_inference(spec, inference_config) if inference_config is not None else spec

        self._record = endpoints.update_version(
            self.workspace,
            self.name,
            version_name,
            traffic_percentile,
            is_default,
            is_control_version_type,
            change,
        )

    def delete_version(self, version_name: str) -> None:
        """Stop routing to a version and delete it."""
        self._record = endpoints.delete_version(self.workspace, self.name, version_name)

    def delete(self) -> None:
        """Delete every version, the router, the keys and the record."""
        endpoints.delete(self.workspace, self.name)
        self._record.handle = None
