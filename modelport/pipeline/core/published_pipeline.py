"""v1's ``azureml.pipeline.core.PublishedPipeline``: a pipeline kept in the workspace, run over REST.

Publishing keeps the pipeline's graph (its steps and parameters) in the workspace under
``pipelines/published/<id>.json``. ``published.endpoint`` is a URL on 127.0.0.1 served by the
workspace's pipeline endpoint process (:mod:`modelport.pipeline.core._endpoint`): a POST with
``{"ExperimentName", "ParameterAssignments"}`` and ``InteractiveLoginAuthentication``'s header
starts a run and answers ``{"Id": run_id}``. That process outlives the Python that published the
pipeline, and is started again when it is found gone.

Example (v1's publish-and-run notebook, ``azureml`` renamed)::

    published = pipeline.publish(name="My_New_Pipeline", description="...", continue_on_step_failure=True)
    published = PublishedPipeline.get(ws, published.id)
    response = requests.post(published.endpoint, headers=auth.get_authentication_header(),
                             json={"ExperimentName": "My_Pipeline1",
                                   "ParameterAssignments": {"pipeline_arg": 45}})
    run_id = response.json()["Id"]
"""

from __future__ import annotations

import builtins
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelport.core.experiment import Experiment
from modelport.errors import InvalidInputError, NotFoundError, StorageError
from modelport.pipeline.core import _endpoint
from modelport.pipeline.core._submit import submit_graph
from modelport.pipeline.core._v1_extras import PublishedPipelineV1
from modelport.workspace import Workspace

__all__ = ["PublishedPipeline"]


def _folder(ws: Workspace) -> Path:
    return ws.path / "pipelines" / "published"


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc}") from exc


class PublishedPipeline(PublishedPipelineV1):
    """A published pipeline: ``id``, ``name``, ``status`` (``Active``/``Disabled``), ``endpoint``."""

    def __init__(self, workspace: Workspace, data: dict[str, Any]) -> None:
        self._workspace = workspace
        self._data = data

    # -- v1 attributes -------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self._data["id"])

    @property
    def name(self) -> str | None:
        return self._data.get("name")

    @property
    def description(self) -> str | None:
        return self._data.get("description")

    @property
    def version(self) -> str | None:
        return self._data.get("version")

    @property
    def status(self) -> str:
        return str(self._data.get("status", "Active"))

    @property
    def continue_on_step_failure(self) -> bool:
        return bool(self._data.get("continue_on_step_failure"))

    @property
    def graph_id(self) -> str:
        return self.id

    @property
    def total_run_steps(self) -> int:
        return len(self._data["graph"]["steps"])

    @property
    def endpoint(self) -> str:
        """The URL that starts a run of this pipeline on POST (the endpoint process is started if
        it is not running)."""
        return _endpoint.url(self._workspace, self.id)

    def get_step_names(self) -> builtins.list[str]:
        return [s["name"] for s in self._data["graph"]["steps"]]

    # -- the registry ----------------------------------------------------------------------------
    @classmethod
    def _create(
        cls,
        workspace: Workspace,
        graph: dict[str, Any],
        *,
        name: str | None,
        description: str | None,
        version: str | None,
        continue_on_step_failure: bool,
    ) -> PublishedPipeline:
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise InvalidInputError(f"a published pipeline's name must be a non-empty string, got {name!r}")
        data = {
            "id": str(uuid.uuid4()),
            "name": name,
            "description": description,
            "version": None if version is None else str(version),
            "continue_on_step_failure": continue_on_step_failure,
            "status": "Active",
            "created_time": datetime.now(UTC).isoformat(),
            "graph": graph,
        }
        _write(_folder(workspace) / f"{data['id']}.json", data)
        published = cls(workspace, data)
        published.endpoint  # noqa: B018 (start the endpoint now, as v1's was ready on publish)
        return published

    @staticmethod
    def get(
        workspace: Workspace, id: str, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> PublishedPipeline:
        """The published pipeline ``id``."""
        if not isinstance(workspace, Workspace):
            raise InvalidInputError(f"workspace must be a Workspace, got {type(workspace).__name__}")
        path = _folder(workspace) / f"{id}.json"
        if not isinstance(id, str) or "/" in id or not path.is_file():
            raise NotFoundError(f"published pipeline '{id}' not found in workspace '{workspace.name}'")
        return PublishedPipeline(workspace, json.loads(path.read_text()))

    @staticmethod
    def get_all(
        workspace: Workspace, active_only: bool = True, _service_endpoint: Any = None
    ) -> builtins.list[PublishedPipeline]:
        """Every published pipeline of the workspace (the active ones unless ``active_only=False``)."""
        folder = _folder(workspace)
        found = [
            PublishedPipeline(workspace, json.loads(p.read_text()))
            for p in sorted(folder.glob("*.json"))
            if not p.name.startswith(".")
        ]
        found.sort(key=lambda p: p._data.get("created_time", ""))
        return [p for p in found if p.status == "Active" or not active_only]

    def _set_status(self, status: str) -> None:
        self._data["status"] = status
        _write(_folder(self._workspace) / f"{self.id}.json", self._data)

    def enable(self) -> None:
        self._set_status("Active")

    def disable(self) -> None:
        """Disable the pipeline: its endpoint answers 400 and ``submit`` refuses, until ``enable()``."""
        self._set_status("Disabled")

    # -- running ---------------------------------------------------------------------------------
    def submit(
        self,
        workspace: Workspace,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        parent_run_id: str | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> Any:
        """Start a run of the pipeline in the experiment ``experiment_name``; return its PipelineRun."""
        return Experiment(workspace, experiment_name).submit(
            self, pipeline_parameters=pipeline_parameters, continue_on_step_failure=continue_on_step_failure
        )

    def _submit_to_experiment(
        self,
        experiment: Experiment,
        tags: dict[str, Any] | None = None,
        pipeline_parameters: dict[str, Any] | None = None,
        continue_on_step_failure: bool | None = None,
        regenerate_outputs: bool = False,
        display_name: str | None = None,
        **_v1: Any,
    ) -> Any:
        current = PublishedPipeline.get(self._workspace, self.id)
        if current.status != "Active":
            raise InvalidInputError(f"published pipeline '{self.id}' is disabled; enable() it to run it")
        if experiment.workspace != self._workspace:
            raise InvalidInputError("a published pipeline runs in the workspace it was published to")
        return submit_graph(
            experiment,
            current._data["graph"],
            pipeline_parameters,
            regenerate_outputs=regenerate_outputs,
            continue_on_step_failure=(
                current.continue_on_step_failure
                if continue_on_step_failure is None
                else continue_on_step_failure
            ),
            tags=tags,
            display_name=display_name,
            published_id=self.id,
        )

    def __repr__(self) -> str:
        endpoint = _endpoint.known_url(self._workspace, self.id)
        return (
            f"PublishedPipeline(Name: {self.name}, Id: {self.id}, Status: {self.status}, "
            f"Endpoint: {endpoint})"
        )
