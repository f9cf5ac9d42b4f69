"""Deployment fixtures: a small real scikit-learn model, a workspace, and cleanup of services."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from tests.server.conftest import TUTORIAL_SCORE  # noqa: F401  (re-exported for the tests here)

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"  # the shared fake scoring scripts


@pytest.fixture(scope="session")
def digits_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A LogisticRegression on scikit-learn's bundled digits, saved like the tutorial's model."""
    x, y = load_digits(return_X_y=True)
    clf = LogisticRegression(max_iter=300).fit(x[:1200] / 16.0, y[:1200])
    folder = tmp_path_factory.mktemp("model")
    path = folder / "sklearn_mnist_model.pkl"
    joblib.dump(clf, path)
    test_x = x[1200:1300] / 16.0
    return path, test_x, clf.predict(test_x)


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envcache")


@pytest.fixture
def dws(home: Path, env_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:  # type: ignore[type-arg]
    """A workspace whose services are all deleted (processes stopped) at teardown."""
    from modelport.deploy import engine
    from modelport.workspace import Workspace

    monkeypatch.setenv("MODELPORT_ENV_CACHE", str(env_cache))
    ws = Workspace.create("deployws")
    yield ws
    for name in engine.names(ws):
        engine.delete(ws, name, missing_ok=True)


@pytest.fixture
def sk_env():  # type: ignore[no-untyped-def]
    """An environment pinning this interpreter's scikit-learn, as train.py does."""
    import sklearn

    from modelport.core.conda_dependencies import CondaDependencies
    from modelport.core.environment import Environment

    env = Environment("sk-env")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=[f"scikit-learn=={sklearn.__version__}", f"joblib=={joblib.__version__}"],
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
    )
    return env
