"""The batch benchmark's tabular entry script: the tutorial's model on rows of a CSV (an id and
784 pixel columns)."""

import os

import joblib


def init():
    global model
    model = joblib.load(os.environ["BENCH_MODEL"])


def run(mini_batch):
    predictions = model.predict(mini_batch.iloc[:, 1:].to_numpy(dtype="float64") / 255.0)
    return [f"{i}: {int(y)}" for i, y in zip(mini_batch["id"], predictions, strict=True)]
