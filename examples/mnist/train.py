"""Part 1 of the MNIST tutorial: train a logistic regression on MNIST and register it.

Run from anywhere (it works in its own folder, like the tutorial)::

    python train.py                  # train on the 60,000 images, or reuse the model already trained
    python train.py --subset 5000    # train on the first 5,000 images only (quick)
    python train.py --force          # train again even if the same model exists

It registers the model ``sklearn_mnist`` and the environment ``tutorial-env``, which pins the exact
scikit-learn, numpy and joblib versions that trained the model, so the service unpickles it with
the same code. A model trained on the same data, code and versions is found by its
``training_fingerprint`` property and reused instead of training again.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import inspect
import json
import os
import sys
import time

import joblib
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from utils import load_data

from modelport.core import Workspace
from modelport.core.conda_dependencies import CondaDependencies
from modelport.core.environment import Environment
from modelport.core.model import Model
from modelport.errors import WorkspaceNotFound
from modelport.opendatasets import MNIST

MODEL_NAME = "sklearn_mnist"
MODEL_FILE = "outputs/sklearn_mnist_model.pkl"
ENV_NAME = "tutorial-env"
# The versions that train the model are the versions the service must run.
PINNED = {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "joblib": joblib.__version__}


def fit(X_train, y_train, reg):
    """The training itself. Its source is part of the training fingerprint."""
    # Current scikit-learn refuses liblinear on 10 classes unless wrapped: one-vs-rest is what
    # liblinear did anyway. n_jobs=2 fits two digits at a time; the model is identical to n_jobs=1.
    clf = OneVsRestClassifier(LogisticRegression(C=1.0 / reg, solver="liblinear", random_state=42), n_jobs=2)
    clf.fit(X_train, y_train)
    return clf


def find_file(data_folder, name):
    return glob.glob(os.path.join(data_folder, "**", name), recursive=True)[0]


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def training_fingerprint(data_files, reg, subset):
    """sha256 of what decides the model: the data, the training code, its arguments, the versions."""
    recipe = {
        "data": {os.path.basename(f): sha256_of(f) for f in data_files},
        "code": inspect.getsource(fit),
        "regularization": reg,
        "subset": subset,
        "packages": PINNED,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def get_workspace():
    """The workspace named by .modelport/config.json here (or above); created on first run."""
    try:
        return Workspace.from_config()
    except WorkspaceNotFound:
        ws = Workspace.create("mnist-tutorial", exist_ok=True)
        ws.write_config()  # .modelport/config.json in this folder, for deploy.py and the notebook
        print("Created workspace", ws.name, "and wrote its config to .modelport/config.json")
        return ws


def register_environment(ws):
    env = Environment(ENV_NAME)
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=[f"{name}=={version}" for name, version in PINNED.items()],
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
    )
    # Registering the same packages again returns the existing version.
    env = env.register(workspace=ws)
    packages = ", ".join(env.python.conda_dependencies.pip_packages)
    print(f"Environment {env.name} version {env.version}: {packages}")
    return env


def main():
    parser = argparse.ArgumentParser(description="Train the MNIST model and register it.")
    parser.add_argument("--regularization", type=float, dest="reg", default=0.5, help="regularization rate")
    parser.add_argument("--subset", type=int, default=None, help="train on the first N training images")
    parser.add_argument("--force", action="store_true", help="train even if the same model is registered")
    args = parser.parse_args()

    # The tutorial works in its own folder: data/, outputs/ and the workspace config live here.
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    ws = get_workspace()
    print("Workspace:", ws.name, "at", ws.path)

    data_folder = os.path.join(os.getcwd(), "data")
    os.makedirs(data_folder, exist_ok=True)
    MNIST.get_file_dataset().download(data_folder, overwrite=True)
    print("Data folder:", data_folder)
    data_files = [
        find_file(data_folder, name)
        for name in (
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        )
    ]

    fingerprint = training_fingerprint(data_files, args.reg, args.subset)
    existing = Model.list(ws, name=MODEL_NAME, properties=[["training_fingerprint", fingerprint]])
    if existing and not args.force:
        model = existing[0]
        print(f"Training skipped: model {model.id} was trained on the same data, code and versions.")
        print("Accuracy is", model.properties["accuracy"], "(use --force to train again)")
        latest = Model(ws, MODEL_NAME)
        if latest.version != model.version:
            # deploy.py takes the latest version: make this model the latest again.
            path = model.download(target_dir="outputs", exist_ok=True)
            model = Model.register(
                workspace=ws,
                model_path=path,
                model_name=MODEL_NAME,
                tags=model.tags,
                properties=model.properties,
                description=model.description,
                model_framework=model.model_framework,
                model_framework_version=model.model_framework_version,
            )
            print(f"Registered it again as {model.id}, the latest version.")
        register_environment(ws)
        return

    # note we scale the pixel intensity values to 0-1 (by dividing it with 255.0)
    # so the model can converge faster.
    X_train = load_data(data_files[0], False) / 255.0
    y_train = load_data(data_files[1], True).reshape(-1)
    X_test = load_data(data_files[2], False) / 255.0
    y_test = load_data(data_files[3], True).reshape(-1)
    if args.subset is not None:
        X_train, y_train = X_train[: args.subset], y_train[: args.subset]
    print(X_train.shape, y_train.shape, X_test.shape, y_test.shape, sep="\n")

    print("Train a logistic regression model with regularization rate of", args.reg)
    start = time.perf_counter()
    clf = fit(X_train, y_train, args.reg)
    print(f"Trained in {time.perf_counter() - start:.1f} s")

    print("Predict the test set")
    y_hat = clf.predict(X_test)
    acc = np.average(y_hat == y_test)
    print("Accuracy is", acc)

    os.makedirs("outputs", exist_ok=True)
    joblib.dump(value=clf, filename=MODEL_FILE)

    model = Model.register(
        workspace=ws,
        model_path=MODEL_FILE,
        model_name=MODEL_NAME,
        tags={"data": "mnist", "model": "classification"},
        properties={
            "training_fingerprint": fingerprint,
            "accuracy": str(acc),
            "regularization": str(args.reg),
            "training_rows": str(len(y_train)),
        },
        description="Mnist handwriting recognition",
        model_framework=Model.Framework.SCIKITLEARN,
        model_framework_version=sklearn.__version__,
    )
    print("Registered model", model.id)
    register_environment(ws)


if __name__ == "__main__":
    main()
