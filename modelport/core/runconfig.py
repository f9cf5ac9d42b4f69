"""v1's ``azureml.core.runconfig``: ``RunConfiguration``, ``CondaDependencies`` and the default
Docker image names, for code that imports them from here.

Example (v1's pipeline cells with ``azureml`` renamed)::

    from modelport.core.runconfig import RunConfiguration, CondaDependencies, DEFAULT_CPU_IMAGE
    run_config = RunConfiguration()
    run_config.environment.docker.base_image = DEFAULT_CPU_IMAGE      # kept, not used: no container
    run_config.environment.python.conda_dependencies = CondaDependencies.create(pip_packages=["pandas"])
"""

from __future__ import annotations

from modelport.core._runconfig_sections import *  # noqa: F403
from modelport.core._runconfig_sections import __all__ as _sections
from modelport.core.conda_dependencies import CondaDependencies
from modelport.core.script_run_config import RunConfiguration

__all__ = [
    "DEFAULT_CPU_IMAGE",
    "DEFAULT_GPU_IMAGE",
    "MPI_CPU_IMAGE",
    "MPI_GPU_IMAGE",
    "CondaDependencies",
    "RunConfiguration",
    *_sections,
]

#: v1's default base images. A local run uses no container: an environment that sets one of these
#: runs with its Python packages on this machine.
DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.1-cudnn8-ubuntu20.04"
MPI_CPU_IMAGE = DEFAULT_CPU_IMAGE
MPI_GPU_IMAGE = DEFAULT_GPU_IMAGE
