"""The tutorial's MNIST data and model, trained once and cached by scikit-learn version."""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "modelport" / "opendatasets" / "data" / "mnist"
MODEL_FILE = "sklearn_mnist_model.pkl"
FULL_ACCURACY = 0.9193  # the tutorial's model on the 10,000 test images (reference/azure-ml-v1-contract.md)
ACCURACY_TOLERANCE = 0.002
SMOKE_TRAIN_ROWS = 2000


def _load_data_function() -> Any:
    # examples/ is not a package: load the tutorial's own utils.py by path.
    spec = importlib.util.spec_from_file_location("mnist_utils", REPO / "examples" / "mnist" / "utils.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_data


def load_split(train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images / 255.0 as float64 ``(n, 784)`` and labels as ``(n,)``, like the tutorial."""
    load_data = _load_data_function()
    prefix = "train" if train else "t10k"
    images = load_data(DATA / f"{prefix}-images-idx3-ubyte.gz", False) / 255.0
    labels = load_data(DATA / f"{prefix}-labels-idx1-ubyte.gz", True).reshape(-1)
    return images, labels


@dataclass
class TrainedModel:
    """A fitted model on disk and the facts the report needs about it."""

    path: Path
    kind: str  # "full" (60,000 rows) or "smoke"
    train_rows: int
    train_seconds: float
    sklearn_version: str
    cached: bool


def _fit(rows: int | None) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    x_train, y_train = load_split(train=True)
    if rows is not None:
        x_train, y_train = x_train[:rows], y_train[:rows]
    clf = OneVsRestClassifier(LogisticRegression(C=2.0, solver="liblinear", random_state=42))
    return clf.fit(x_train, y_train)


def trained_model(cache: Path, smoke: bool) -> TrainedModel:
    """The tutorial's model from ``cache``, training (and caching) it first if needed."""
    import joblib
    import sklearn

    kind = "smoke" if smoke else "full"
    folder = cache / "models" / f"sklearn-{sklearn.__version__}-{kind}"
    path, meta_path = folder / MODEL_FILE, folder / "meta.json"
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        return TrainedModel(path, kind, meta["train_rows"], meta["train_seconds"], sklearn.__version__, True)
    rows = SMOKE_TRAIN_ROWS if smoke else None
    start = time.perf_counter()
    clf = _fit(rows)
    seconds = time.perf_counter() - start
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{MODEL_FILE}.tmp"
    joblib.dump(clf, tmp)
    tmp.replace(path)
    train_rows = rows or 60000
    meta_path.write_text(json.dumps({"train_rows": train_rows, "train_seconds": seconds}))
    return TrainedModel(path, kind, train_rows, seconds, sklearn.__version__, False)
