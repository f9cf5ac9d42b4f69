"""``Experiment`` (v1's ``azureml.core.experiment``): a named group of runs in a workspace.

Example (v1's cells with ``azureml`` renamed)::

    experiment = Experiment(workspace=ws, name="diabetes-experiment")
    run = experiment.start_logging()
    run.log("alpha", 0.1)
    run.complete()

    run = experiment.submit(ScriptRunConfig(source_directory="train", script="train.py"))
    run.wait_for_completion(show_output=True)
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from modelport import _settings, jobs
from modelport.core._experiment_v1 import ExperimentV1
from modelport.core._run_base import RunBase
from modelport.core.compute import run_compute
from modelport.core.dataset import DatasetConsumptionConfig
from modelport.core.datastore import DataReference
from modelport.core.script_run_config import ScriptRunConfig, check_target
from modelport.errors import InvalidInputError, NotFoundError, NotSupported
from modelport.registry import runs as registry
from modelport.registry.models import check_str_dict
from modelport.workspace import Workspace

if TYPE_CHECKING:
    from modelport.core.run import Run

__all__ = ["Experiment"]


class Experiment(ExperimentV1):
    """The experiment ``name`` of ``workspace`` (made on first use, as v1 did).

    Example::

        >>> exp = Experiment(ws, "sklearn-mnist")
        >>> [r.id for r in exp.get_runs()]          # newest first
        >>> Experiment.list(ws)
    """

    def __init__(
        self, workspace: Workspace, name: str, _skip_name_validation: bool = False, **_v1: Any
    ) -> None:
        if not isinstance(workspace, Workspace):
            raise InvalidInputError(f"workspace must be a Workspace, got {type(workspace).__name__}")
        registry.ensure_experiment(workspace, name)
        self.workspace = workspace
        self.name = name

    def _run(self, record: registry.RunRecord, folder: str | None = None) -> Run:
        """A run record of this experiment as the class of its kind (a PipelineRun for a pipeline's)."""
        return cast("Run", RunBase._wrap(self, record, folder))

    @property
    def id(self) -> str:
        return self.name

    @property
    def tags(self) -> dict[str, str]:
        return {}

    @staticmethod
    def list(
        workspace: Workspace,
        experiment_name: str | None = None,
        view_type: str | None = None,
        tags: Any = None,
    ) -> builtins.list[Experiment]:
        """The workspace's experiments (just ``experiment_name``'s when given)."""
        names = registry.experiments(workspace)
        if experiment_name is not None:
            names = [n for n in names if n == experiment_name]
        return [Experiment(workspace, n) for n in names]

    def start_logging(
        self,
        *args: Any,
        outputs: str | bool | None = None,
        snapshot_directory: str | None = None,
        display_name: str | None = None,
        **_v1: Any,
    ) -> Run:
        """Start an interactive run (status Running until ``run.complete()``).

        On ``complete()`` the files under ``outputs`` (default ``./outputs``, ``False`` for none)
        are kept as the run's ``outputs/`` files, as v1 did.
        """
        record = registry.create_run(
            self.workspace, self.name, "interactive", "Running", display_name=display_name
        )
        folder = (
            None if outputs is False else os.path.abspath(outputs if isinstance(outputs, str) else "outputs")
        )
        return self._run(record, folder)

    def submit(self, config: Any, tags: dict[str, Any] | None = None, **kwargs: Any) -> Run:
        """Run ``config`` as a new run: a :class:`ScriptRunConfig`, or a ``Pipeline`` /
        ``PublishedPipeline`` (``pipeline_parameters={...}``, ``regenerate_outputs=...``), which
        returns a ``PipelineRun``.

        The environment is built (or found in the cache) first; then the script runs in a copy
        of its source directory, in its own process, while this call returns: on this machine, or
        as a Ray job on the config's ``compute_target`` (an AmlCompute cluster). Follow it with
        ``run.wait_for_completion(show_output=True)``.
        """
        # As v1 does, the configuration object says how it is submitted: a pipeline brings its
        # own submit (modelport.pipeline sits above this layer, so it is not imported here).
        hook = getattr(config, "_submit_to_experiment", None)
        if hook is not None:
            run: Run = hook(self, tags=tags, **kwargs)
            return run
        if not isinstance(config, ScriptRunConfig):
            raise NotSupported(
                f"Experiment.submit({type(config).__name__}): only a ScriptRunConfig runs locally, or a "
                "Pipeline (HyperDrive and AutoML need Azure); run your script with ScriptRunConfig"
            )
        rc = config.run_config
        check_target(rc.target, "run_config.target")
        # Resolved (and checked: it answers, it runs Ray's Jobs API) before the environment is built.
        compute = run_compute(self.workspace, rc.target)
        source = Path(config.source_directory)
        if config.script is not None and not (source / config.script).is_file():
            raise NotFoundError(f"script {config.script} not found in source_directory {source}")
        interpreter, env_vars, env_name = _interpreter(rc.environment)
        inputs: dict[str, Any] = {}
        args = [_argument(a, inputs) for a in config.arguments]
        if config.command:
            command = [str(c) for c in config.command]
            if command[0] in ("python", "python3"):
                command[0] = interpreter
        else:
            command = [interpreter, str(config.script), *args]
        record = jobs.submit(
            self.workspace,
            self.name,
            source_directory=source,
            command=command,
            interpreter=interpreter,
            environment_variables={
                **env_vars,
                **check_str_dict(rc.environment_variables, "environment_variables"),
            },
            environment_name=env_name,
            max_run_duration_seconds=rc.max_run_duration_seconds,
            inputs=inputs,
            tags=tags,
            display_name=kwargs.get("display_name"),
            details={"script": config.script, "arguments": [str(a) for a in args]},
            compute=compute,
        )
        return self._run(record)

    def get_runs(
        self,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        include_children: bool = False,
        status: str | None = None,
    ) -> Iterator[Run]:
        """The experiment's runs, newest first; filters as v1's (tags: a key, or a dict)."""
        want_tags = {tags: None} if isinstance(tags, str) else dict(tags or {})
        want_props = {properties: None} if isinstance(properties, str) else dict(properties or {})
        for record in registry.list_runs(self.workspace, self.name, include_children):
            run = self._run(record)
            if status is not None and record.status != status:
                continue
            if type is not None and run.type != type:
                continue
            if not all(k in record.tags and (v is None or record.tags[k] == v) for k, v in want_tags.items()):
                continue
            if not all(
                k in record.properties and (v is None or record.properties[k] == v)
                for k, v in want_props.items()
            ):
                continue
            yield run

    def archive(self) -> None:
        raise NotSupported(
            "Experiment.archive: local experiments are not archived; their runs stay in the workspace"
        )

    def __repr__(self) -> str:
        return f"Experiment(Name: {self.name}, Workspace: {self.workspace.name})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Experiment) and (other.workspace, other.name) == (self.workspace, self.name)

    def __hash__(self) -> int:
        return hash((self.workspace, self.name))


def _interpreter(environment: Any) -> tuple[str, dict[str, str], str | None]:
    """The interpreter for ``environment`` (built once, then cached; this Python when None), its
    environment variables and its name."""
    if environment is None or getattr(environment, "_untouched_default", lambda: False)():
        return sys.executable, {}, None
    to_spec = getattr(environment, "to_spec", None)
    if to_spec is None:
        raise InvalidInputError(f"environment must be an Environment, got {type(environment).__name__}")
    from modelport.environments import EnvSpec, resolve_interpreter

    spec = to_spec()
    python = resolve_interpreter(
        EnvSpec.from_dict(spec), _settings.env_cache_root(), log=lambda line: print(line, flush=True)
    )
    return str(python), dict(spec.get("environment_variables") or {}), spec.get("name")


def _argument(arg: Any, inputs: dict[str, Any]) -> str:
    """A script argument as the script gets it: references and dataset inputs become local paths."""
    if isinstance(arg, DataReference):
        return str(arg.local_path)
    if isinstance(arg, DatasetConsumptionConfig):
        inputs[arg.name] = arg.local_path
        return f"{{input:{arg.name}}}"
    if hasattr(arg, "as_named_input"):
        raise InvalidInputError(
            "a dataset argument must say how the script gets it: ds.as_named_input('name').as_download()"
        )
    return str(arg)


def open_run(workspace: Workspace, run_id: str) -> Run:
    """The run ``run_id``, whichever experiment it belongs to, as the class of its kind (v1's
    ``Run.get`` and ``ws.get_run``)."""
    record = registry.get_run(workspace, run_id)
    return Experiment(workspace, record.experiment)._run(record)
