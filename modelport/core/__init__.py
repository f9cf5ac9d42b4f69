"""v1-compatible facade: ``from modelport.core import Workspace`` where v1 said ``azureml.core``."""

from __future__ import annotations

from modelport import __version__ as VERSION
from modelport.core.dataset import Dataset
from modelport.core.environment import Environment
from modelport.core.model import Model
from modelport.core.webservice import Webservice
from modelport.workspace import Workspace

__all__ = ["VERSION", "Dataset", "Environment", "Model", "Webservice", "Workspace"]
