"""examples/mnist/train.py, run as a user runs it: a subprocess, on a training subset, in a tmp workspace."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn

from modelport.core import Workspace
from modelport.core.environment import Environment
from modelport.core.model import Model

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mnist"

pytestmark = [pytest.mark.process, pytest.mark.timeout(180)]


@pytest.fixture
def example(tmp_path: Path, home: Path) -> Path:
    """A copy of the example's code (no data, outputs or workspace config) under tmp_path."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ("train.py", "utils.py"):
        shutil.copy(EXAMPLE / name, folder / name)
    return folder


def train(folder: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(folder / "train.py"), *args],
        cwd=folder.parent,  # train.py moves to its own folder
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def accuracy(output: str) -> float:
    match = re.search(r"^Accuracy is (\d\.\d+)", output, re.MULTILINE)
    assert match, output
    return float(match.group(1))


def test_train_registers_the_model_and_pinned_environment_then_skips(example: Path) -> None:
    out = train(example, "--subset", "1000")
    assert "Trained in" in out
    assert 0.80 < accuracy(out) < 0.95

    ws = Workspace.from_config(example)
    assert ws.name == "mnist-tutorial"
    assert (example / ".modelport" / "config.json").is_file()

    model = Model(ws, "sklearn_mnist")
    assert model.version == 1
    assert model.tags == {"data": "mnist", "model": "classification"}
    assert model.description == "Mnist handwriting recognition"
    assert model.model_framework == Model.Framework.SCIKITLEARN
    assert model.model_framework_version == sklearn.__version__
    assert model.properties["training_rows"] == "1000"
    assert len(model.properties["training_fingerprint"]) == 64
    assert float(model.properties["accuracy"]) == accuracy(out)

    # The registered file is the model that was trained, and it predicts digits.
    path = Path(model.download(target_dir=str(example / "downloaded")))
    assert path.name == "sklearn_mnist_model.pkl"
    clf = joblib.load(path)
    assert clf.predict(np.zeros((1, 784))).shape == (1,)

    env = Environment.get(ws, "tutorial-env")
    assert env.version == "1"
    assert env.python.conda_dependencies.pip_packages == [
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={np.__version__}",
        f"joblib=={joblib.__version__}",
    ]
    assert env.python.conda_dependencies.get_python_version() == "{}.{}".format(*sys.version_info[:2])

    # Same data, code and versions: no training, no new version of anything.
    out = train(example, "--subset", "1000")
    assert "Training skipped: model sklearn_mnist:1" in out
    assert "Trained in" not in out
    assert accuracy(out) == float(model.properties["accuracy"])
    assert [m.version for m in Model.list(ws, name="sklearn_mnist")] == [1]
    assert Environment.get(ws, "tutorial-env").version == "1"


def test_other_data_trains_and_a_reused_model_becomes_the_latest(example: Path) -> None:
    train(example, "--subset", "500")
    out = train(example, "--subset", "800")  # other data: trains a version 2
    assert "Trained in" in out
    ws = Workspace.from_config(example)
    assert Model(ws, "sklearn_mnist").properties["training_rows"] == "800"

    # Back to 500 rows: version 1 is reused and registered again as the latest, for deploy.py.
    out = train(example, "--subset", "500")
    assert "Training skipped: model sklearn_mnist:1" in out
    assert "Registered it again as sklearn_mnist:3" in out
    latest = Model(ws, "sklearn_mnist")
    assert latest.version == 3
    assert latest.properties == Model(ws, "sklearn_mnist", version=1).properties

    out = train(example, "--subset", "500", "--force")
    assert "Trained in" in out
    assert Model(ws, "sklearn_mnist").version == 4
