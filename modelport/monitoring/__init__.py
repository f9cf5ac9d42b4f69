"""v1's ``azureml.monitoring``: collect what a service sees (:class:`ModelDataCollector`).

Inside a scoring script::

    from modelport.monitoring import ModelDataCollector

    def init():
        global inputs_dc, predictions_dc
        inputs_dc = ModelDataCollector("sklearn_mnist", designation="inputs", feature_names=PIXELS)
        predictions_dc = ModelDataCollector("sklearn_mnist", designation="predictions",
                                            feature_names=["prediction"])

    def run(raw_data):
        data = np.array(json.loads(raw_data)["data"])
        result = model.predict(data)
        correlations = inputs_dc.collect(data)
        predictions_dc.collect(predictions_dc.add_correlations(result, correlations))
        return result.tolist()

Collection is switched on per service (``collect_model_data=True`` in the deployment
configuration, or ``service.update(collect_model_data=True)``); when it is off ``collect()`` does
nothing, as in v1. Rows land as CSV files under the workspace's default datastore, in v1's layout
(``modeldata/<subscription>/<resource group>/<workspace>/<service>/<model>/<version>/
<designation>/<yyyy>/<mm>/<dd>/data.csv``); see docs/monitoring.md.

Drift between datasets (v1's ``azureml.datadrift``) is :mod:`modelport.datadrift`.

This package is imported inside every scoring worker: it stays cheap (the collector is loaded
on first use, drift never).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelport.monitoring.collection.collector import ModelDataCollector

__all__ = ["ModelDataCollector"]


def __getattr__(name: str) -> Any:
    # Lazy: the deploy engine imports the layout helpers of this package without the collector.
    if name == "ModelDataCollector":
        from modelport.monitoring.collection.collector import ModelDataCollector

        return ModelDataCollector
    raise AttributeError(f"module 'modelport.monitoring' has no attribute {name!r}")
