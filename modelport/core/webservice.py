"""v1's ``azureml.core.webservice``: deployed services and their flavours.

Example::

    from modelport.core.webservice import AciWebservice, Webservice

    config = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1)
    service = Model.deploy(ws, "sklearn-mnist-svc", [model], inference_config, config)
    Webservice(ws, "sklearn-mnist-svc").run(json.dumps({"data": rows}))
"""

from __future__ import annotations

from modelport.core._webservice import (
    AciWebservice,
    AksWebservice,
    LocalWebservice,
    UnknownWebservice,
    Webservice,
)
from modelport.core.aks_endpoint import AksEndpoint as AksEndpoint  # v1 imports it from here too

__all__ = ["AciWebservice", "AksWebservice", "LocalWebservice", "UnknownWebservice", "Webservice"]
