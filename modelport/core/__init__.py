"""v1-compatible facade: ``from modelport.core import Workspace`` where v1 said ``azureml.core``."""

from __future__ import annotations

from modelport import __version__ as VERSION
from modelport.core._cloud_only import (
    Keyvault,
    LinkedService,
    PrivateEndPoint,
    PrivateEndPointConfig,
    SynapseWorkspaceLinkedServiceConfiguration,
    attach_legacy_compute_target,
    is_compute_target_prepared,
    prepare_compute_target,
    remove_legacy_compute_target,
)
from modelport.core._functions import diagnostic_log, get_run
from modelport.core.compute import ComputeTarget
from modelport.core.container_registry import ContainerRegistry
from modelport.core.dataset import Dataset
from modelport.core.datastore import Datastore
from modelport.core.environment import Environment
from modelport.core.experiment import Experiment
from modelport.core.image import Image
from modelport.core.model import Model
from modelport.core.run import Run
from modelport.core.script_run import ScriptRun
from modelport.core.script_run_config import RunConfiguration, ScriptRunConfig
from modelport.core.webservice import Webservice
from modelport.core.workspace import Workspace

__all__ = [
    "VERSION",
    "ComputeTarget",
    "ContainerRegistry",
    "Dataset",
    "Datastore",
    "Environment",
    "Experiment",
    "Image",
    "Keyvault",
    "LinkedService",
    "Model",
    "PrivateEndPoint",
    "PrivateEndPointConfig",
    "Run",
    "RunConfiguration",
    "ScriptRun",
    "ScriptRunConfig",
    "SynapseWorkspaceLinkedServiceConfiguration",
    "Webservice",
    "Workspace",
    "attach_legacy_compute_target",
    "diagnostic_log",
    "get_run",
    "is_compute_target_prepared",
    "prepare_compute_target",
    "remove_legacy_compute_target",
]
