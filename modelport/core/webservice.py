"""``Webservice`` and its v1 flavours: deployed services, from any process (v1's API)."""

from __future__ import annotations

import builtins
import json
import sys
import time
from typing import Any

import requests

from modelport.deploy import configs
from modelport.deploy import keys as keyfile
from modelport.deploy import service as engine
from modelport.deploy.configs import DeploymentSettings
from modelport.errors import DeploymentError, InvalidInputError, ServiceCallError
from modelport.workspace import Workspace

__all__ = ["AciWebservice", "AksWebservice", "LocalWebservice", "Webservice"]

_RETRIES = 6


class Webservice:
    """A deployed service. ``Webservice(ws, name)`` works from any process.

    Example::

        service = Model.deploy(ws, "sklearn-mnist-svc", [model], inference_config, aciconfig)
        service.wait_for_deployment(show_output=True)
        y_hat = service.run(input_data=json.dumps({"data": rows}))
    """

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = engine.check_service_name(name)
        self._record = engine.refresh(workspace, name)
        self._session: requests.Session | None = None

    @classmethod
    def _wrap(cls, workspace: Workspace, record: dict[str, Any]) -> Webservice:
        svc = cls.__new__(cls)
        svc.workspace, svc.name, svc._record, svc._session = workspace, record["name"], record, None
        return svc

    # -- attributes ----------------------------------------------------------------------------
    @property
    def _settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self._record.get("settings") or {}
        return settings

    @property
    def state(self) -> str:
        """Transitioning, Healthy, Unhealthy, Failed or Deleting, as observed now."""
        self.update_deployment_state()
        return str(self._record["state"])

    @property
    def error(self) -> str | None:
        """Why the service is not Healthy; for a Healthy one, its last worker recycle, if any."""
        if self._record.get("error"):
            return str(self._record["error"])
        events = engine.events(self._record)
        return events[-1] if events else None

    @property
    def port(self) -> int | None:
        return self._record.get("port")

    @property
    def scoring_uri(self) -> str | None:
        return f"http://127.0.0.1:{self.port}/score" if self.port else None

    @property
    def swagger_uri(self) -> str | None:
        return f"http://127.0.0.1:{self.port}/swagger.json" if self.port else None

    @property
    def compute_type(self) -> str:
        return str(self._settings.get("compute_type", "Local"))

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._settings.get("tags") or {})

    @property
    def properties(self) -> dict[str, str]:
        return dict(self._settings.get("properties") or {})

    @property
    def description(self) -> str | None:
        return self._settings.get("description")

    @property
    def auth_enabled(self) -> bool:
        return bool(self._settings.get("auth_enabled"))

    @property
    def token_auth_enabled(self) -> bool:
        return bool(self._settings.get("token_auth_enabled"))

    @property
    def created_time(self) -> str | None:
        return self._record.get("created_time")

    @property
    def updated_time(self) -> str | None:
        return self._record.get("updated_time")

    @property
    def models(self) -> builtins.list[Any]:
        from modelport.core.model import Model

        return [Model(self.workspace, id=model_id) for model_id in self._record.get("models") or []]

    def update_deployment_state(self) -> None:
        self._record = engine.refresh(self.workspace, self.name)

    # -- lifecycle -----------------------------------------------------------------------------
    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """Wait until Healthy; raise DeploymentError with the cause (init()'s traceback, the build error)."""
        started = time.monotonic()
        deadline = started + (timeout_sec if timeout_sec is not None else 600)
        out = sys.stdout
        if show_output:
            for p in self._record.get("phases") or []:
                print(f"  {p['phase']} ({p['seconds']:.2f} s)", file=out)
            print("  waiting for init() ...", file=out, flush=True)
        delay = 0.02
        while True:
            self.update_deployment_state()
            state = self._record["state"]
            if state == engine.HEALTHY:
                break
            if state in (engine.FAILED, engine.DELETING):
                if show_output:
                    print(f"Failed: {self.error}", file=out, flush=True)
                raise DeploymentError(
                    self.name, state, f"{self.error}\n(see service.get_logs() for the full log)"
                )
            if time.monotonic() > deadline:
                raise DeploymentError(
                    self.name, state, f"not Healthy after {timeout_sec} s: {self.error or 'still starting'}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        if show_output:
            print(f"Healthy: {self.scoring_uri} (ready {time.monotonic() - started:.2f} s after deploy)")

    def delete(self) -> None:
        """Stop the processes, free the port, remove the folder and the record. Safe to call twice."""
        engine.delete(self.workspace, self.name)
        self._record = dict(self._record, state="Deleted", process=None)

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
        auth_enabled: bool | None = None,
        **unsupported: Any,
    ) -> None:
        """Change the service. Metadata changes are instant; others redeploy with zero downtime."""
        given = sorted(k for k, v in unsupported.items() if v is not None)
        if given:
            raise InvalidInputError(
                f"update: {', '.join(given)} not supported; deploy again with a new config"
            )
        settings = DeploymentSettings.from_dict(self._settings)
        if tags is not None:
            settings.tags = configs._str_dict("tags", tags)
        if properties is not None:
            merged = dict(settings.properties)
            for k, v in configs._str_dict("properties", properties).items():
                if k in merged and merged[k] != v:
                    raise InvalidInputError(
                        f"property '{k}' is already '{merged[k]}'; properties are add-only"
                    )
                merged[k] = v
            settings.properties = merged
        if description is not None:
            settings.description = description
        metadata_only = models is None and inference_config is None and auth_enabled is None
        if metadata_only and (tags is not None or properties is not None or description is not None):
            record = engine.load(self.workspace, self.name)
            record["settings"] = settings.to_dict()
            engine.save(self.workspace, record)
            self._record = record
            return
        if auth_enabled is not None:
            settings.auth_enabled = bool(auth_enabled)
        current_models = models if models is not None else self.models
        config = inference_config if inference_config is not None else self._inference_config()
        record = engine.deploy(self.workspace, self.name, current_models, config, settings, overwrite=True)
        self._record = record

    def _inference_config(self) -> Any:
        from modelport.core.environment import Environment
        from modelport.deploy.inference import InferenceConfig

        ic = self._record.get("inference_config") or {}
        env_spec = ic.get("environment")
        return InferenceConfig(
            entry_script=ic["scriptPath"] if not ic.get("sourceDirectory") else ic["entryScript"],
            source_directory=ic.get("sourceDirectory"),
            environment=Environment.from_spec(env_spec) if env_spec else None,
            description=ic.get("description"),
        )

    # -- scoring -------------------------------------------------------------------------------
    def _auth_header(self) -> dict[str, str]:
        if self.auth_enabled:
            return {"Authorization": f"Bearer {self.get_keys()[0]}"}
        if self.token_auth_enabled:
            return {"Authorization": f"Bearer {self.get_token()[0]}"}
        return {}

    def run(self, input_data: Any) -> Any:
        """POST ``input_data`` (bytes, str, a numpy array, or a JSON-able object) to the service;
        return its JSON.

        A numpy array goes as ``application/x-npy`` (no JSON at all) when the service declares an
        array input (``@array_input`` or a NumpyParameterType: its ``/swagger.json`` says so; asked
        once per deployment), else as JSON ``{"data": array.tolist()}``.

        Raises ServiceCallError with the status and body on anything but 200.
        """
        if not self.scoring_uri:
            raise InvalidInputError(
                f"service '{self.name}' has no scoring URI (state {self._record.get('state')})"
            )
        if self._session is None:
            self._session = requests.Session()
        content_type = "application/json"
        if isinstance(input_data, bytes):
            body = input_data
        elif isinstance(input_data, str):
            body = input_data.encode("utf-8")
        elif _is_ndarray(input_data):
            array_input = self._array_input()
            if array_input is not None:
                body, content_type = _npy(input_data), "application/x-npy"
            else:
                body = json.dumps({"data": input_data.tolist()}).encode("utf-8")
        else:
            try:
                body = json.dumps(input_data).encode("utf-8")
            except TypeError as exc:
                raise InvalidInputError(f"input_data is not JSON-serializable: {exc}") from exc
        headers = {"Content-Type": content_type, **self._auth_header()}
        for attempt in range(_RETRIES):
            try:
                resp = self._session.post(self.scoring_uri, data=body, headers=headers, timeout=(5, 3600))
            except requests.ConnectionError:
                # The connection dropped before an answer (e.g. a keep-alive socket closed by a
                # replaced server during an overwrite): retry on a fresh connection.
                if attempt == _RETRIES - 1:
                    raise
                self._session.close()
                time.sleep(0.05 * 2**attempt)  # 0.05 .. 0.8 s, about 1.5 s in all
                continue
            # 503 with Retry-After: the service is overloaded or replacing a worker; it asks us to
            # come back shortly, so do (bounded), rather than fail the caller at once.
            retry_after = resp.headers.get("Retry-After")
            if resp.status_code == 503 and retry_after and attempt < _RETRIES - 1:
                try:
                    wait = min(float(retry_after), 2.0)
                except ValueError:
                    wait = 1.0
                time.sleep(max(wait, 0.05))
                continue
            break
        if resp.status_code != 200:
            raise ServiceCallError(resp.status_code, resp.text, dict(resp.headers))
        if "json" in resp.headers.get("Content-Type", ""):
            return resp.json()
        return resp.text

    def _array_input(self) -> dict[str, Any] | None:
        """The service's declared array input (from its swagger), cached per deployment."""
        deployment = self._record.get("deployment_id") or self.port
        cache: dict[Any, Any] = self.__dict__.setdefault("_array_inputs", {})
        if deployment not in cache:
            try:
                assert self._session is not None and self.swagger_uri is not None
                resp = self._session.get(self.swagger_uri, headers=self._auth_header(), timeout=(5, 30))
                if resp.status_code >= 500:  # not ready yet: ask again next time
                    return None
                found = resp.json().get("x-modelport-array-input") if resp.status_code == 200 else None
            except (requests.RequestException, ValueError, AttributeError):
                return None  # cannot tell: JSON works for every service
            cache[deployment] = found if isinstance(found, dict) else None
        result: dict[str, Any] | None = cache[deployment]
        return result

    # -- keys ----------------------------------------------------------------------------------
    def get_keys(self) -> tuple[str, str]:
        """(primary, secondary) keys; only where key auth is on."""
        if not self.auth_enabled:
            raise InvalidInputError(f"service '{self.name}' does not use key auth")
        keys = keyfile.read_keys(engine.keys_path(self.workspace, self.name))
        return keys["primary_key"], keys["secondary_key"]

    def get_key(self) -> str:
        """The primary key (the tutorial's comment calls this)."""
        return self.get_keys()[0]

    def regen_key(self, key: str, set_key: str | None = None) -> None:
        """Regenerate (or set) the 'Primary' or 'Secondary' key; takes effect without a restart."""
        if not self.auth_enabled:
            raise InvalidInputError(f"service '{self.name}' does not use key auth")
        keyfile.regenerate(engine.keys_path(self.workspace, self.name), key, set_key)

    def get_token(self) -> tuple[str, float]:
        """(token, refresh_after epoch seconds); only where token auth is on."""
        if not self.token_auth_enabled:
            raise InvalidInputError(f"service '{self.name}' does not use token auth")
        from modelport.server.auth import make_token

        secret = keyfile.read_keys(engine.keys_path(self.workspace, self.name))["token_secret"]
        token, expires = make_token(secret, 3600)
        return token, expires - 600

    # -- logs and listing ----------------------------------------------------------------------
    def get_logs(self, num_lines: int = 5000, init: bool = False) -> str:
        """The service log's last ``num_lines`` lines (init=True: only the deployment's own lines)."""
        text = engine.tail(self._record.get("log_file"), num_lines if not init else 100_000)
        if init:
            return "\n".join(line for line in text.splitlines() if line.startswith("[modelport]"))
        return text

    def serialize(self) -> dict[str, Any]:
        """A JSON-able description; never includes keys."""
        return {
            "name": self.name,
            "state": self._record.get("state"),
            "error": self.error,
            "computeType": self.compute_type,
            "scoringUri": self.scoring_uri,
            "swaggerUri": self.swagger_uri,
            "models": list(self._record.get("models") or []),
            "tags": self.tags,
            "properties": self.properties,
            "description": self.description,
            "authEnabled": self.auth_enabled,
            "tokenAuthEnabled": self.token_auth_enabled,
            "createdTime": self.created_time,
            "updatedTime": self.updated_time,
            "processes": engine.processes(self._record),
            "workers": self._settings.get("workers"),
        }

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
        from modelport.registry.models import _matches, _normalize_filter

        out = []
        for name in engine.names(workspace):
            svc = Webservice(workspace, name)
            if compute_type and svc.compute_type.upper() != compute_type.upper():
                continue
            ids = svc._record.get("models") or []
            if model_name and not any(i.split(":")[0] == model_name for i in ids):
                continue
            if model_id and model_id not in ids:
                continue
            if not _matches(svc.tags, _normalize_filter(tags, "tags")):
                continue
            if not _matches(svc.properties, _normalize_filter(properties, "properties")):
                continue
            out.append(svc)
        return out

    @staticmethod
    def deploy_configuration(
        port: int | None = None, max_batch_size: int | None = None, max_batch_latency_ms: float | None = None
    ) -> DeploymentSettings:
        return configs.local_configuration(port, max_batch_size, max_batch_latency_ms)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, state={self._record.get('state')!r})"


def _is_ndarray(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray)


def _npy(array: Any) -> bytes:
    import io

    import numpy as np

    out = io.BytesIO()
    np.save(out, np.ascontiguousarray(array), allow_pickle=False)
    return out.getvalue()


class LocalWebservice(Webservice):
    @staticmethod
    def deploy_configuration(
        port: int | None = None, max_batch_size: int | None = None, max_batch_latency_ms: float | None = None
    ) -> DeploymentSettings:
        """Deploy to this machine on ``port`` (a free one when None). ``max_batch_size`` (rows) turns
        on adaptive batching for a script whose run() takes one array (``@array_input``):
        concurrent requests share a run() call, waiting at most ``max_batch_latency_ms`` (default 5)."""
        return configs.local_configuration(port, max_batch_size, max_batch_latency_ms)


class AciWebservice(Webservice):
    @staticmethod
    def deploy_configuration(*args: Any, **kwargs: Any) -> DeploymentSettings:
        """v1's ACI configuration, deployed locally: ``cpu_cores`` sets workers and CPU affinity,
        ``memory_gb`` recycles a worker that grows past its share, ``auth_enabled`` turns on keys."""
        return configs.aci_configuration(*args, **kwargs)


class AksWebservice(Webservice):
    @staticmethod
    def deploy_configuration(*args: Any, **kwargs: Any) -> DeploymentSettings:
        """v1's AKS configuration, deployed locally with its replica count as workers (a warning says
        so); auth is on by default as on AKS."""
        return configs.aks_configuration(*args, **kwargs)
