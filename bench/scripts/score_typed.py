"""The tutorial's model behind a typed run(): the server parses the body straight to an ndarray.

The same model and answer as examples/mnist/score.py; only the input is declared instead of parsed
by run() itself. JSON bodies are the tutorial's ``{"data": rows}``; ``application/x-npy`` works too.
"""

import os

import joblib

from modelport.runtime import array_input


def init():
    global model
    model = joblib.load(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "sklearn_mnist_model.pkl"))


@array_input(dtype="float64", shape=(None, 784), name="data")
def run(data):
    return model.predict(data)
