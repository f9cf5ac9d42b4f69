"""The tutorial's score.py with v1's data collection added (inputs and predictions), as
Microsoft's "collect data from models in production" article adds it."""

import json
import os

import joblib
import numpy as np

from modelport.monitoring import ModelDataCollector

PIXELS = [f"pixel{i}" for i in range(784)]


def init():
    global model, inputs_dc, prediction_dc
    model = joblib.load(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "sklearn_mnist_model.pkl"))
    inputs_dc = ModelDataCollector("sklearn_mnist", designation="inputs", feature_names=PIXELS)
    prediction_dc = ModelDataCollector(
        "sklearn_mnist", designation="predictions", feature_names=["prediction"]
    )


def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    y_hat = model.predict(data)
    correlations = inputs_dc.collect(data)
    prediction_dc.collect(prediction_dc.add_correlations(y_hat.reshape(-1, 1), correlations))
    return y_hat.tolist()
