"""v1-compatible facade: ``from modelport.core import Workspace`` where v1 said ``azureml.core``."""

from __future__ import annotations

from modelport import __version__ as VERSION
from modelport.core.compute import ComputeTarget
from modelport.core.dataset import Dataset
from modelport.core.datastore import Datastore
from modelport.core.environment import Environment
from modelport.core.experiment import Experiment
from modelport.core.image import Image
from modelport.core.model import Model
from modelport.core.run import Run
from modelport.core.script_run_config import RunConfiguration, ScriptRunConfig
from modelport.core.webservice import Webservice
from modelport.core.workspace import Workspace

__all__ = [
    "VERSION",
    "ComputeTarget",
    "Dataset",
    "Datastore",
    "Environment",
    "Experiment",
    "Image",
    "Model",
    "Run",
    "RunConfiguration",
    "ScriptRunConfig",
    "Webservice",
    "Workspace",
]
