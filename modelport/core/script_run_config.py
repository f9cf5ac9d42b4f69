"""``ScriptRunConfig`` (v1's ``azureml.core.script_run_config``): what ``Experiment.submit`` runs.

A script runs on this machine (v1's ``compute_target='local'``, the default), with the
interpreter of its environment, or on a Ray cluster as a Ray job when ``compute_target`` is an
``AmlCompute`` target (the object or its name, as v1 took either).

Example (v1's cells with ``azureml`` renamed)::

    src = ScriptRunConfig(source_directory="./train", script="train.py",
                          arguments=["--alpha", 0.5], environment=sklearn_env)
    run = Experiment(ws, "diabetes").submit(src)
    run.wait_for_completion(show_output=True)
"""

from __future__ import annotations

import builtins
import os
import shlex
from typing import Any

from modelport._refused import refused_method
from modelport.core._runconfig_sections import DockerConfiguration
from modelport.core.compute import ComputeTarget
from modelport.core.environment import Environment
from modelport.errors import ComputeTargetError, InvalidInputError, NotSupported

__all__ = ["RunConfiguration", "ScriptRunConfig"]

LOCAL = "local"
MAX_DURATION_SECONDS_DEFAULT = 2592000  # v1's: 30 days


def check_target(compute_target: Any, what: str = "compute_target") -> None:
    """Where a run may go: ``None`` or ``'local'`` (this machine), a compute target's name
    (looked up when the run is submitted), or an ``AmlCompute`` target (a Ray cluster). An AKS
    target (web services) and anything else are refused in one line, naming the alternative."""
    if compute_target is None or isinstance(compute_target, str):
        return
    if isinstance(compute_target, ComputeTarget):
        if compute_target.type == "AmlCompute" or compute_target.name == LOCAL:
            return
        raise ComputeTargetError(
            f"{what}: compute target '{compute_target.name}' is an {type(compute_target).__name__} (for "
            "web services); runs go to an AmlCompute target: attach the same Ray cluster under a second "
            "name with ComputeTarget.attach(ws, 'cpu-cluster', "
            "AmlCompute.attach_configuration(compute_target=...))"
        )
    raise NotSupported(
        f"{what}: {type(compute_target).__name__} is not a compute target here; use 'local' (the default, "
        "this machine) or an AmlCompute target (a Ray cluster)"
    )


class RunConfiguration:
    """v1's ``azureml.core.runconfig.RunConfiguration``, reduced to what a run uses:
    ``target`` (``'local'``, an AmlCompute target or its name), ``environment`` and
    ``environment_variables``."""

    def __init__(
        self,
        script: str | None = None,
        arguments: builtins.list[Any] | None = None,
        framework: str | None = None,
        communicator: str | None = None,
        conda_dependencies: Any = None,
        **_v1: Any,
    ) -> None:
        self.script = script
        self.arguments = list(arguments or [])
        self.target: Any = LOCAL
        # v1 code sets run_config.environment.docker.base_image and .python.conda_dependencies on
        # a fresh RunConfiguration; left as made, this default runs with this Python.
        self.environment: Any = _default_environment()
        self.environment_variables: dict[str, str] = {}
        self.max_run_duration_seconds: float | None = None
        self.node_count = 1
        self.framework = framework or "Python"
        self.communicator = communicator or "None"
        self.command: builtins.list[str] = []
        self.docker = DockerConfiguration()  # kept; a local run uses no container
        # v1's data wiring: empty here, data reaches a script through its arguments
        self.data_references: dict[str, Any] = {}
        self.data: dict[str, Any] = {}
        self.output_data: dict[str, Any] = {}
        self.datacaches: builtins.list[Any] = []
        self.source_directory_data_store: str | None = None
        self.services: dict[str, Any] = {}
        self.priority: int | None = None
        self.credential_passthrough = False
        self.auto_prepare_environment = True
        # sections for remote compute and distributed training: no local meaning, so none is set
        self.amlcompute: Any = None
        self.auto_cluster_compute_specification: Any = None
        self.kubernetescompute: Any = None
        self.hdi: Any = None
        self.spark: Any = None
        self.history: Any = None
        self.mpi: Any = None
        self.pytorch: Any = None
        self.tensorflow: Any = None
        self.paralleltask: Any = None
        if conda_dependencies is not None:
            env = Environment("local-run-env")
            env.python.conda_dependencies = conda_dependencies
            self.environment = env

    _FILES = (
        "run configurations are not saved as files here; keep the settings in code, or the "
        "environment in a folder with Environment.save_to_directory/load_from_directory"
    )
    save = refused_method("RunConfiguration.save", _FILES)
    load = staticmethod(refused_method("RunConfiguration.load", _FILES))
    delete = staticmethod(refused_method("RunConfiguration.delete", _FILES))


class _DefaultEnvironment(Environment):
    """A fresh RunConfiguration's environment: this Python until the code changes it."""

    def _untouched_default(self) -> bool:
        # The Docker image is no package: a default environment with only an image set is this Python.
        mine, fresh = self.to_spec(), Environment("DefaultEnvironment").to_spec()
        mine.pop("docker_base_image", None)
        fresh.pop("docker_base_image", None)
        return mine == fresh


def _default_environment() -> Environment:
    return _DefaultEnvironment("DefaultEnvironment")


class ScriptRunConfig:
    """A script, its arguments, its environment and where to run it (here, or an AmlCompute
    target: a Ray cluster, where it runs as a Ray job).

    ``arguments`` may hold datastore references (``datastore.path('data').as_mount()``) and dataset
    inputs (``ds.as_named_input('train').as_download()``): the script gets a local path for each.
    ``command`` (a list or a string) replaces ``script`` + ``arguments``; a leading ``python``
    runs the environment's interpreter.
    """

    MAX_DURATION_SECONDS_DEFAULT = MAX_DURATION_SECONDS_DEFAULT

    def __init__(
        self,
        source_directory: str | os.PathLike[str],
        script: str | None = None,
        arguments: builtins.list[Any] | None = None,
        run_config: RunConfiguration | None = None,
        _telemetry_values: Any = None,
        compute_target: Any = None,
        environment: Any = None,
        distributed_job_config: Any = None,
        resume_from: Any = None,
        max_run_duration_seconds: float | None = MAX_DURATION_SECONDS_DEFAULT,
        command: builtins.list[Any] | str | None = None,
        docker_runtime_config: Any = None,
        identity: Any = None,
    ) -> None:
        if not isinstance(source_directory, str | os.PathLike):
            raise InvalidInputError(
                f"source_directory must be a folder path, got {type(source_directory).__name__}"
            )
        if script is None and command is None:
            raise InvalidInputError("ScriptRunConfig needs a script (or a command)")
        if script is not None and command is not None:
            raise InvalidInputError("ScriptRunConfig takes a script or a command, not both")
        if distributed_job_config is not None:
            raise NotSupported(
                "distributed_job_config: distributed training (MPI, PyTorch, TensorFlow) needs remote "
                "compute; run the script as one local process instead"
            )
        if resume_from is not None:
            raise NotSupported("resume_from: runs are not resumed locally; submit the script again")
        if arguments is not None and (isinstance(arguments, str) or not isinstance(arguments, list | tuple)):
            raise InvalidInputError("arguments must be a list, e.g. ['--alpha', 0.5]")
        self.source_directory = os.fspath(source_directory)
        self.identity = identity  # v1's managed identity for remote compute: kept, no local effect
        self.script = script
        self.arguments = list(arguments or [])
        self.command = shlex.split(command) if isinstance(command, str) else command
        self.run_config = run_config or RunConfiguration(script=script, arguments=self.arguments)
        check_target(compute_target)
        if compute_target is not None:
            self.run_config.target = compute_target
        if environment is not None:
            self.run_config.environment = environment
        if max_run_duration_seconds is not None:
            self.run_config.max_run_duration_seconds = max_run_duration_seconds
        if docker_runtime_config is not None:
            self.run_config.docker = docker_runtime_config  # kept; no container locally

    @property
    def compute_target(self) -> Any:
        return self.run_config.target

    @property
    def environment(self) -> Any:
        return self.run_config.environment

    def __repr__(self) -> str:
        return f"ScriptRunConfig(source_directory={self.source_directory!r}, script={self.script!r})"
