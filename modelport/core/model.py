"""``Model``: registered model versions (v1's ``azureml.core.model``)."""

from __future__ import annotations

import builtins
import dataclasses
import json
import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

from filelock import FileLock

from modelport import jobs
from modelport.core._model_v1 import ModelV1
from modelport.core._service_base import ServiceBase
from modelport.core.dataset import dataset_from_ref, dataset_ref
from modelport.core.environment import build_progress
from modelport.core.inference import InferenceConfig, deployment_spec
from modelport.core.resource_configuration import ResourceConfiguration
from modelport.deploy.configs import AksEndpointDeploymentConfiguration, DeploymentSettings
from modelport.deploy.export.package import ModelPackage
from modelport.deploy.inference import check_sample_input
from modelport.deploy.spec import DeploymentSpec
from modelport.errors import InvalidInputError
from modelport.registry import datasets as dataset_registry
from modelport.registry import models as registry
from modelport.workspace import Workspace

__all__ = ["InferenceConfig", "Model", "ModelPackage"]


class _Framework:
    CUSTOM = "Custom"
    SCIKITLEARN = "ScikitLearn"
    ONNX = "Onnx"
    TENSORFLOW = "TensorFlow"
    PYTORCH = "PyTorch"
    KERAS = "Keras"
    XGBOOST = "XGBoost"
    LIGHTGBM = "LightGBM"
    MULTI = "Multi"


class Model(ModelV1):
    """A registered model version.

    Example::

        model = Model.register(ws, model_path="outputs/model.pkl", model_name="sklearn_mnist",
                               tags={"data": "mnist"})
        model = Model(ws, "sklearn_mnist")          # latest version
        model = Model(ws, id="sklearn_mnist:1")
        model.download(target_dir="/tmp/m", exist_ok=True)
    """

    Framework: ClassVar[type[_Framework]] = _Framework

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        id: str | None = None,
        tags: Any = None,
        properties: Any = None,
        version: int | None = None,
        run_id: str | None = None,
        model_framework: str | None = None,
        expand: bool = True,
        **_v1: Any,
    ) -> None:
        if not isinstance(workspace, Workspace):
            raise InvalidInputError(f"workspace must be a Workspace, got {type(workspace).__name__}")
        properties = _with_run(properties, run_id)
        if id is not None:
            id_name, id_version = registry.parse_id(id)
            if name is not None and name != id_name:
                raise InvalidInputError(f"name {name!r} and id {id!r} disagree")
            name, version = id_name, id_version if id_version is not None else version
        if version is not None:
            try:
                version = int(version)
            except (TypeError, ValueError):
                raise InvalidInputError(f"model version must be an integer, got {version!r}") from None
        self.workspace = workspace
        self._record = registry.get(workspace, name, version, tags, properties)

    @classmethod
    def _wrap(cls, workspace: Workspace, record: registry.ModelRecord) -> Model:
        model = cls.__new__(cls)
        model.workspace = workspace
        model._record = record
        return model

    # -- attributes ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._record.name

    @property
    def version(self) -> int:
        return self._record.version

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._record.tags)

    @property
    def properties(self) -> dict[str, str]:
        return dict(self._record.properties)

    @property
    def description(self) -> str | None:
        return self._record.description

    @property
    def created_time(self) -> str:
        return self._record.created_time

    @property
    def model_framework(self) -> str | None:
        return self._record.framework

    @property
    def model_framework_version(self) -> str | None:
        return self._record.framework_version

    @property
    def run_id(self) -> str | None:
        """The run the model was registered from (``run.register_model``), if any."""
        return self._record.properties.get(RUN_PROPERTY)

    def _extra(self, key: str) -> Any:
        return dataset_registry.model_extras(self.workspace, self.name, self.version).get(key)

    @property
    def sample_input_dataset(self) -> Any:
        """The dataset given as ``sample_input_dataset`` at registration (None if none)."""
        ref = self._extra("sample_input_dataset")
        return dataset_from_ref(self.workspace, ref) if ref else None

    @property
    def sample_output_dataset(self) -> Any:
        ref = self._extra("sample_output_dataset")
        return dataset_from_ref(self.workspace, ref) if ref else None

    @property
    def resource_configuration(self) -> ResourceConfiguration | None:
        data = self._extra("resource_configuration")
        return ResourceConfiguration.deserialize(data) if data else None

    @property
    def url(self) -> str:
        return f"modelport://{self.workspace.name}/models/{self.name}/{self.version}/{self._record.root}"

    @property
    def files(self) -> builtins.list[registry.ModelFile]:
        return list(self._record.files)

    # -- registry ------------------------------------------------------------------------------
    @staticmethod
    def register(
        workspace: Workspace,
        model_path: str | os.PathLike[str],
        model_name: str,
        tags: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        child_paths: list[str] | None = None,
        datasets: Any = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: Any = None,
        **_v1: Any,
    ) -> Model:
        """Register a file or folder as the next version of ``model_name`` (1, 2, ...).

        ``sample_input_dataset``/``sample_output_dataset`` (datasets) and ``resource_configuration``
        (a :class:`~modelport.core.resource_configuration.ResourceConfiguration`) are kept with the
        version and read back as ``model.sample_input_dataset`` and ``model.resource_configuration``.
        """
        if child_paths is not None:
            raise InvalidInputError("child_paths is not supported: register the folder you want")
        extras = _extras(datasets, sample_input_dataset, sample_output_dataset, resource_configuration)
        record = registry.register(
            workspace,
            model_path,
            model_name,
            tags=tags,
            properties=properties,
            description=description,
            framework=model_framework,
            framework_version=model_framework_version,
        )
        if extras:
            dataset_registry.set_model_extras(workspace, record.name, record.version, extras)
        return Model._wrap(workspace, record)

    @staticmethod
    def list(
        workspace: Workspace,
        name: str | None = None,
        tags: Any = None,
        properties: Any = None,
        run_id: str | None = None,
        latest: bool = False,
        model_framework: str | None = None,
        **_v1: Any,
    ) -> list[Model]:
        """Models matching every filter; tags/properties are lists of ``key`` or ``[key, value]``."""
        records = registry.find(
            workspace,
            name=name,
            tags=tags,
            properties=_with_run(properties, run_id),
            framework=model_framework,
            latest=latest,
        )
        return [Model._wrap(workspace, r) for r in records]

    @staticmethod
    def get_model_path(
        model_name: str, version: int | None = None, _workspace: Workspace | None = None
    ) -> str:
        """The local path of a model (latest version when none given), for scripts that load it.

        Inside a scoring script: the deployed copy (``azureml-models/<name>/<version>/...``).
        Inside a run (a submitted script, a batch worker): the model is copied out of the run's
        workspace once per run, into the run's folder (``models/<name>/<version>/``), and that
        path is returned to every process of the run. As in v1, a model of one file gives that
        file, a folder the folder.
        """
        from modelport.runtime.model_path import MODELS_FOLDER, get_model_path

        in_service = (Path(os.environ.get("AML_APP_ROOT") or os.getcwd()) / MODELS_FOLDER).is_dir()
        ctx = jobs.context()
        if ctx is None or in_service:
            return get_model_path(model_name, version)
        return _run_model_path(ctx, model_name, version)

    @staticmethod
    def profile(
        workspace: Workspace,
        profile_name: str,
        models: builtins.list[Model],
        inference_config: InferenceConfig,
        input_dataset: Any,
        cpu: float | None = None,
        memory_in_gb: float | None = None,
        description: str | None = None,
        **_v1: Any,
    ) -> Any:
        """Profile ``models`` behind ``inference_config``: deployed locally with ``cpu`` cores and
        ``memory_in_gb``, the dataset's requests replayed, latency, throughput, CPU and memory
        measured. Returns a ModelProfile; ``wait_for_completion()`` runs it, ``get_details()``
        gives the figures and ``recommendedCpu`` / ``recommendedMemoryInGB``."""
        from modelport.core import profile

        return profile.create(
            workspace, profile_name, models, inference_config, input_dataset, cpu, memory_in_gb, description
        )

    @staticmethod
    def deploy(
        workspace: Workspace,
        name: str,
        models: builtins.list[Model],
        inference_config: InferenceConfig | None = None,
        deployment_config: Any = None,
        deployment_target: Any = None,
        overwrite: bool = False,
        show_output: bool = False,
    ) -> Any:
        """Deploy ``models`` behind ``inference_config``'s scoring script as a local web service.

        Returns a Webservice (Transitioning, or Failed with the cause); ``wait_for_deployment``
        waits for init(). ``overwrite=True`` replaces an existing service with no downtime.
        """
        from modelport.deploy import configs, endpoints, engine, keywords, records

        settings = deployment_config if deployment_config is not None else _default_configuration(models)
        if not isinstance(settings, configs.DeploymentSettings):
            raise InvalidInputError(
                "deployment_config must come from a deploy_configuration() "
                "(LocalWebservice, AciWebservice or AksWebservice)"
            )
        if deployment_target is not None:  # an AksCompute: the service runs on its Ray cluster
            from modelport.core.compute import AksCompute

            if not isinstance(deployment_target, AksCompute) or settings.compute_type != "AKS":
                raise InvalidInputError(
                    "deployment_target must be an AksCompute, with AksWebservice.deploy_configuration()"
                )
            settings = dataclasses.replace(settings, compute_target=deployment_target.name)
        elif (notice := configs.local_aks_notice(settings)) is not None:
            warnings.warn(notice, UserWarning, stacklevel=2)
        if (said := keywords.deploy_notice(settings)) is not None:  # once, not one per keyword
            warnings.warn(said, UserWarning, stacklevel=2)
        records.check_service_name(name)
        if not models:
            raise InvalidInputError("models: give at least one registered Model")
        spec = _deployment_spec(workspace, name, models, inference_config, settings)
        if isinstance(settings, AksEndpointDeploymentConfiguration):
            if deployment_target is None or overwrite:
                raise InvalidInputError(
                    "an AksEndpoint is deployed to an AksCompute (deployment_target), without overwrite"
                )
            record = endpoints.create(
                workspace,
                name,
                settings.version_name,
                spec,
                settings.traffic_percentile,
                settings.is_control_version_type,
            )
            return ServiceBase._wrap(workspace, record, phases_shown=show_output, kind="endpoint")
        # Without show_output, an environment build still shows its phases live (a notebook's case).
        progress = (lambda line: print(line, flush=True)) if show_output else build_progress()
        record = engine.deploy(workspace, name, spec, overwrite=overwrite, progress=progress)
        service = ServiceBase._wrap(workspace, record, phases_shown=show_output)
        # What the environment replaced was printed by the progress: wait_for_deployment need not.
        service._notices_shown = show_output or bool(getattr(progress, "notices", None))
        return service

    @staticmethod
    def package(
        workspace: Workspace,
        models: builtins.list[Model],
        inference_config: InferenceConfig | None = None,
        generate_dockerfile: bool = False,
        image_name: str | None = None,
        image_label: str | None = None,
    ) -> ModelPackage:
        """A Docker build context for ``models`` behind ``inference_config`` (see docs/export.md).

        ``generate_dockerfile=True`` is required here (v1's default, False, built an image in a
        cloud registry). Example::

            package = Model.package(ws, [model], inference_config, generate_dockerfile=True)
            package.wait_for_creation(show_output=True)
            package.save("./mnist-image")
        """
        from modelport.deploy import configs
        from modelport.deploy.export.package import create_package

        if inference_config is None:
            raise InvalidInputError("inference_config is required (an InferenceConfig with the entry script)")
        spec = _deployment_spec(workspace, "", models, inference_config, configs.local_configuration())
        return create_package(
            workspace,
            spec,
            generate_dockerfile=generate_dockerfile,
            image_name=image_name,
            image_label=image_label,
        )

    def download(self, target_dir: str | os.PathLike[str] = ".", exist_ok: bool = False, **_v1: Any) -> str:
        """Copy the model's file or folder into ``target_dir``; every file's sha256 is verified."""
        return str(registry.download(self.workspace, self._record, target_dir, exist_ok))

    def update(self, tags: dict[str, Any] | None = None, description: str | None = None, **_v1: Any) -> None:
        """Replace the tags and/or the description."""
        new_tags = registry.check_str_dict(tags, "tags") if tags is not None else None
        if description is not None and not isinstance(description, str):
            raise InvalidInputError("description must be a string")
        registry.update(self.workspace, self._record, tags=new_tags, description=description)
        self._refresh()

    def add_tags(self, tags: dict[str, Any]) -> None:
        merged = dict(self._record.tags, **registry.check_str_dict(tags, "tags"))
        registry.update(self.workspace, self._record, tags=merged)
        self._refresh()

    def remove_tags(self, tags: builtins.list[str] | str) -> None:
        keys = [tags] if isinstance(tags, str) else builtins.list(tags)
        remaining = {k: v for k, v in self._record.tags.items() if k not in keys}
        registry.update(self.workspace, self._record, tags=remaining)
        self._refresh()

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Add properties. Properties are add-only: changing an existing one is an error."""
        new = registry.check_str_dict(properties, "properties")
        for k, v in new.items():
            old = self._record.properties.get(k)
            if old is not None and old != v:
                raise InvalidInputError(
                    f"model '{self.id}': property '{k}' is already '{old}'; properties cannot be changed"
                )
        registry.update(self.workspace, self._record, properties=dict(self._record.properties, **new))
        self._refresh()

    def delete(self) -> None:
        """Delete this version from the registry."""
        registry.delete(self.workspace, self._record)

    def _refresh(self) -> None:
        self._record = registry.get(self.workspace, self.name, self.version)

    # -- serialization -------------------------------------------------------------------------
    def serialize(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "tags": self.tags,
            "properties": self.properties,
            "description": self.description,
            "createdTime": self.created_time,
            "modelFramework": self.model_framework,
            "modelFrameworkVersion": self.model_framework_version,
            "url": self.url,
            "workspace": {"name": self.workspace.name, "path": str(self.workspace.path)},
        }

    @staticmethod
    def deserialize(workspace: Workspace, model_payload: dict[str, Any]) -> Model:
        """The model a ``serialize()`` payload names, read back from ``workspace``."""
        try:
            return Model(workspace, id=str(model_payload["id"]))
        except (KeyError, TypeError):
            raise InvalidInputError("model payload has no 'id'") from None

    def verify(self) -> None:
        """Raise IntegrityError unless every stored file still matches its recorded sha256."""
        registry.verify(self.workspace, self._record)

    def __repr__(self) -> str:
        return f"Model(workspace={self.workspace.name!r}, name={self.name!r}, version={self.version})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.workspace == self.workspace and other.id == self.id

    def __hash__(self) -> int:
        return hash((self.workspace, self.id))


RUN_PROPERTY = "azureml.runId"  # the property v1 gave a model registered from a run


def _with_run(properties: Any, run_id: str | None) -> Any:
    """A properties filter with ``run_id`` added as ``[azureml.runId, run_id]``."""
    if run_id is None:
        return properties
    wanted: builtins.list[Any] = [[RUN_PROPERTY, run_id]]
    if isinstance(properties, dict):
        return [*([k, v] for k, v in properties.items()), *wanted]
    if isinstance(properties, str):
        return [properties, *wanted]
    return [*(properties or []), *wanted]


def _extras(datasets: Any, sample_input: Any, sample_output: Any, resources: Any) -> dict[str, Any]:
    """What ``Model.register`` keeps beside the files, checked before anything is stored."""
    extras: dict[str, Any] = {}
    if sample_input is not None:
        extras["sample_input_dataset"] = dataset_ref(sample_input, "sample_input_dataset")
    if sample_output is not None:
        extras["sample_output_dataset"] = dataset_ref(sample_output, "sample_output_dataset")
    if datasets:
        if not isinstance(datasets, builtins.list) or not all(
            isinstance(d, tuple) and len(d) == 2 for d in datasets
        ):
            raise InvalidInputError(
                "datasets must be a list of (purpose, dataset) tuples, e.g. [('training', ds)]"
            )
        extras["datasets"] = [[str(purpose), dataset_ref(ds, "datasets")] for purpose, ds in datasets]
    if resources is not None:
        if not isinstance(resources, ResourceConfiguration):
            raise InvalidInputError(
                f"resource_configuration must be a ResourceConfiguration, got {type(resources).__name__}"
            )
        extras["resource_configuration"] = resources.serialize()
    return extras


def _sample_rows(dataset: Any, limit: int = 5) -> builtins.list[Any] | None:
    """A few rows of a tabular sample dataset, as lists (a one-column output as values)."""
    if dataset is None or not hasattr(dataset, "to_pandas_dataframe"):
        return None
    frame = dataset.to_pandas_dataframe().head(limit)
    if frame.shape[1] == 1:
        return [v.item() if hasattr(v, "item") else v for v in frame.iloc[:, 0]]
    rows: builtins.list[Any] = frame.values.tolist()
    return rows


def _check_models(workspace: Workspace, models: builtins.list[Model] | None) -> None:
    for m in models or []:
        if not isinstance(m, Model):
            raise InvalidInputError(f"models must be Model objects, got {type(m).__name__}")
        if m.workspace != workspace:
            raise InvalidInputError(f"model {m.id} belongs to another workspace")


def _deployment_spec(
    workspace: Workspace,
    name: str,
    models: builtins.list[Model] | None,
    inference_config: InferenceConfig | None,
    settings: DeploymentSettings,
) -> DeploymentSpec:
    """v1's deployment arguments as the engine's spec: a no-code deployment's (a built-in script,
    its example from the model's sample datasets) when there is no inference config, else the
    inference config's, its example from a model's sample dataset when it has none."""
    _check_models(workspace, models)
    if isinstance(settings, AksEndpointDeploymentConfiguration):
        settings = settings.service_settings()
    if inference_config is None and models:
        from modelport.deploy import nocode

        model = models[0]
        return nocode.spec_for(
            [m._record for m in models],
            _sample_rows(model.sample_input_dataset),
            _sample_rows(model.sample_output_dataset),
            workspace.path / "nocode" / name,
            settings,
        )
    if not isinstance(inference_config, InferenceConfig):
        raise InvalidInputError("inference_config is required (an InferenceConfig with the entry script)")
    spec = deployment_spec([m.id for m in models or []], inference_config, settings)
    return _with_model_sample(spec, models)


def _with_model_sample(spec: DeploymentSpec, models: builtins.list[Model] | None) -> DeploymentSpec:
    """``spec`` with a sample input from the first model registered with a
    ``sample_input_dataset`` (its first row, as ``{"data": [row]}``), when it has none of its own."""
    if spec.sample_input is not None:
        return spec
    for model in models or []:
        dataset = model.sample_input_dataset
        if dataset is None or not hasattr(dataset, "to_pandas_dataframe"):
            continue  # a file dataset has no rows to show
        # pandas writes what JSON cannot hold (dates, NaN) its own way: epoch ms, null.
        rows = json.loads(dataset.to_pandas_dataframe().head(1).to_json(orient="values"))
        if not rows:
            continue
        try:
            sample = check_sample_input({"data": rows})
        except InvalidInputError as exc:  # e.g. a row too large to be an example: deploy without
            warnings.warn(
                f"model {model.id}'s sample_input_dataset is not used as the example: {exc.message}",
                stacklevel=4,
            )
            continue
        return dataclasses.replace(spec, sample_input=sample)
    return spec


def _default_configuration(models: builtins.list[Model] | None) -> Any:
    """No deployment config: ACI's, sized by the model's ResourceConfiguration when it has one
    (as v1's no-code deployment did), else a local service."""
    from modelport.deploy import configs

    resources = models[0].resource_configuration if models else None
    if resources is None:
        return configs.local_configuration()
    return configs.aci_configuration(cpu_cores=resources.cpu, memory_gb=resources.memory_in_gb)


#: A batch run's models may come from another workspace than the run's (BatchSpec.model_workspace);
#: the supervisor names its folder here for the workers.
MODEL_WORKSPACE_ENV = "MODELPORT_MODEL_WORKSPACE"


def _run_model_path(ctx: jobs.RunContext, model_name: str, version: int | None) -> str:
    """A model copied out of the workspace into the run's folder, once per run: the first
    process of the run to ask copies it (under a file lock); the others find it there."""
    folder = os.environ.get(MODEL_WORKSPACE_ENV)
    if folder:
        name = json.loads((Path(folder) / "workspace.json").read_text())["name"]
        ws = Workspace(name, folder)
    else:
        ws = Workspace(ctx.workspace_name, ctx.workspace_path)
    record = registry.get(ws, model_name, int(version) if version is not None else None)
    target = Path(ctx.workspace_path) / "runs" / ctx.run_id / "models" / record.name / str(record.version)
    target.parent.mkdir(parents=True, exist_ok=True)
    done = target / ".complete"
    with FileLock(str(target) + ".lock"):
        if not done.exists():
            registry.download(ws, record, target, exist_ok=True)
            done.write_text(record.id)
    entries = sorted(p for p in target.iterdir() if not p.name.startswith("."))
    return str(entries[0] if len(entries) == 1 else target)
