"""Part 2 of the MNIST tutorial: deploy the model train.py registered, then test it.

Run train.py first, then::

    python deploy.py            # deploy, score the 10,000 test images, draw, delete the service
    python deploy.py --keep     # the same, and leave the service running

It follows the tutorial's notebook step by step, with ``azureml`` renamed ``modelport``: it writes
``conf.png`` (the confusion matrix) and ``predictions.png`` (30 test images and their predictions)
in this folder.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import requests
from sklearn.metrics import confusion_matrix
from utils import load_data

import modelport.core
from modelport.core import Workspace
from modelport.core.environment import Environment
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice
from modelport.errors import WorkspaceNotFound
from modelport.opendatasets import MNIST

matplotlib.use("Agg")  # no display: the figures go to PNG files


def main():
    parser = argparse.ArgumentParser(description="Deploy the MNIST model and test the service.")
    parser.add_argument("--keep", action="store_true", help="leave the service running at the end")
    args = parser.parse_args()

    # The tutorial works in its own folder: score.py, utils.py, data/ and the pictures live here.
    os.chdir(os.path.dirname(os.path.abspath(__file__)))

    # Display the core SDK version number
    print("modelport SDK Version: ", modelport.core.VERSION)

    # -- Deploy as web service ------------------------------------------------------------------
    aciconfig = AciWebservice.deploy_configuration(
        cpu_cores=1,
        memory_gb=1,
        tags={"data": "MNIST", "method": "sklearn"},
        description="Predict MNIST with sklearn",
    )

    try:
        ws = Workspace.from_config()
    except WorkspaceNotFound:
        raise SystemExit("No workspace config found here: run train.py first.") from None
    model = Model(ws, "sklearn_mnist")
    print("Model:", model.id)

    # The tutorial asks for version="1", the one its part 1 registered. train.py registers a new
    # version of tutorial-env whenever the package versions that train the model change (after an
    # upgrade of scikit-learn, say), so the version that matches the latest model is the latest
    # one, which version=None asks for.
    myenv = Environment.get(workspace=ws, name="tutorial-env", version=None)
    pins = myenv.python.conda_dependencies.pip_packages
    print(f"Environment: {myenv.name} version {myenv.version}:", ", ".join(pins))
    if f"scikit-learn=={model.model_framework_version}" not in pins:
        raise SystemExit(
            f"{model.id} was trained with scikit-learn {model.model_framework_version}, but "
            f"{myenv.name} version {myenv.version} pins {pins}: run train.py again."
        )
    inference_config = InferenceConfig(entry_script="score.py", environment=myenv)

    start = time.perf_counter()
    service = Model.deploy(
        workspace=ws,
        name="sklearn-mnist-svc3",
        models=[model],
        inference_config=inference_config,
        deployment_config=aciconfig,
        overwrite=True,
    )
    service.wait_for_deployment(show_output=True)
    print(f"Deployed in {time.perf_counter() - start:.1f} s")

    print(service.scoring_uri)

    # -- Test the model -------------------------------------------------------------------------
    # Download test data
    data_folder = os.path.join(os.getcwd(), "data")
    os.makedirs(data_folder, exist_ok=True)

    mnist_file_dataset = MNIST.get_file_dataset()
    mnist_file_dataset.download(data_folder, overwrite=True)

    # Load test data
    # note we also shrink the intensity values (X) from 0-255 to 0-1.
    images = glob.glob(os.path.join(data_folder, "**/t10k-images-idx3-ubyte.gz"), recursive=True)[0]
    labels = glob.glob(os.path.join(data_folder, "**/t10k-labels-idx1-ubyte.gz"), recursive=True)[0]
    X_test = load_data(images, False) / 255.0
    y_test = load_data(labels, True).reshape(-1)

    # Predict test data: the 10,000 images in one JSON request, through the service
    start = time.perf_counter()
    test = json.dumps({"data": X_test.tolist()})
    test = bytes(test, encoding="utf8")
    y_hat = service.run(input_data=test)
    print(f"Scored {len(y_hat)} images through {service.scoring_uri} in {time.perf_counter() - start:.1f} s")

    # Examine the confusion matrix
    conf_mx = confusion_matrix(y_test, y_hat)
    print(conf_mx)
    accuracy = np.average(y_hat == y_test)
    print("Overall accuracy:", accuracy)

    # normalize the diagonal cells so that they don't overpower the rest of the cells when visualized
    row_sums = conf_mx.sum(axis=1, keepdims=True)
    norm_conf_mx = conf_mx / row_sums
    np.fill_diagonal(norm_conf_mx, 0)

    fig = plt.figure(figsize=(8, 5))
    ax = fig.add_subplot(111)
    cax = ax.matshow(norm_conf_mx, cmap=plt.cm.bone)
    ticks = np.arange(0, 10, 1)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xticklabels(ticks)
    ax.set_yticklabels(ticks)
    fig.colorbar(cax)
    plt.ylabel("true labels", fontsize=14)
    plt.xlabel("predicted values", fontsize=14)
    plt.savefig("conf.png")
    plt.close()

    # -- Show predictions -----------------------------------------------------------------------
    # find 30 random samples from test set
    n = 30
    sample_indices = np.random.permutation(X_test.shape[0])[0:n]

    test_samples = json.dumps({"data": X_test[sample_indices].tolist()})
    test_samples = bytes(test_samples, encoding="utf8")

    # predict using the deployed model
    result = service.run(input_data=test_samples)

    # compare actual value vs. the predicted values:
    i = 0
    plt.figure(figsize=(20, 1))

    for s in sample_indices:
        plt.subplot(1, n, i + 1)
        plt.axhline("")
        plt.axvline("")

        # use different color for misclassified sample
        font_color = "red" if y_test[s] != result[i] else "black"
        clr_map = plt.cm.gray if y_test[s] != result[i] else plt.cm.Greys

        plt.text(x=10, y=-10, s=result[i], fontsize=18, color=font_color)
        plt.imshow(X_test[s].reshape(28, 28), cmap=clr_map)

        i = i + 1
    plt.savefig("predictions.png")
    plt.close()

    # -- A direct HTTP request ------------------------------------------------------------------
    # send a random row from the test set to score
    random_index = np.random.randint(0, len(X_test) - 1)
    input_data = json.dumps({"data": [X_test[random_index].tolist()]})

    headers = {"Content-Type": "application/json"}
    if service.auth_enabled:
        primary_key, _secondary_key = service.get_keys()
        headers["Authorization"] = "Bearer " + primary_key

    resp = requests.post(service.scoring_uri, input_data, headers=headers)

    print("POST to url", service.scoring_uri)
    print("label:", y_test[random_index])
    print("prediction:", resp.text)

    # -- Clean up -------------------------------------------------------------------------------
    scoring_uri = service.scoring_uri
    if args.keep:
        print(f"The service keeps running; delete it with: modelport service delete {service.name}")
    else:
        service.delete()
        print("Deleted the service", service.name)

    print()
    print("Overall accuracy:", accuracy)
    print("Scoring URI:", scoring_uri)
    print("Confusion matrix picture:", os.path.abspath("conf.png"))
    print("Predictions picture:", os.path.abspath("predictions.png"))


if __name__ == "__main__":
    main()
