"""modelport: register, deploy and score Python models as local web services.

It speaks the Azure ML SDK v1 deployment API: import from ``modelport.core`` where v1 code
imported from ``azureml.core``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
