"""The batch benchmark's file entry script: the tutorial's model on PNG files (one image each)."""

import os

import joblib
import numpy as np
from PIL import Image


def init():
    global model
    model = joblib.load(os.environ["BENCH_MODEL"])


def run(mini_batch):
    images = np.stack([np.asarray(Image.open(p), dtype=np.float64).reshape(784) for p in mini_batch]) / 255.0
    predictions = model.predict(images)
    return [f"{os.path.basename(p)}: {int(y)}" for p, y in zip(mini_batch, predictions, strict=True)]
