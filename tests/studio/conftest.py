"""Studio fixtures: a real workspace with real services (the tutorial's score.py over a 784-input
MNIST model, and a service whose init() fails), the real ``modelport studio`` command in a
subprocess on a free port, and Debian's chromium driven by playwright.

One workspace, one studio and one browser for the package (tests/studio): deploying and
launching cost seconds, the pages cost milliseconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import requests

from tests.fixtures import REPO, SCRIPTS, TUTORIAL_SCORE, head_images, load_mnist, wait_until

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "studio-test-token-0123456789abcdef"
XSS = "<img src=x onerror=alert(1)>"
TRAIN_IMAGES = 1500
BRUSH_PX = 22  # the canvas brush (studio.js), in canvas pixels; the canvas is 280x280, 10 per MNIST pixel


def shots_dir(tmp: Path) -> Path:
    """Where screenshots go: $MODELPORT_STUDIO_SHOTS (docs/studio/ when refreshing the docs), else tmp."""
    folder = Path(os.environ.get("MODELPORT_STUDIO_SHOTS") or tmp)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def strokes(image: np.ndarray, threshold: float = 0.5) -> list[tuple[int, int, int]]:
    """Horizontal strokes over the image's dark pixels: (row, first column, last column)."""
    out = []
    grid = image.reshape(28, 28) >= threshold
    for row in range(28):
        col = 0
        while col < 28:
            if grid[row, col]:
                start = col
                while col + 1 < 28 and grid[row, col + 1]:
                    col += 1
                out.append((row, start, col))
            col += 1
    return out


def rendered(image: np.ndarray) -> np.ndarray:
    """What the canvas sends for ``image`` replayed as :func:`strokes`: each stroke a round brush
    of BRUSH_PX over a 280x280 canvas, then each 10x10 block averaged (anti-aliasing ignored)."""
    ys, xs = np.mgrid[0:280, 0:280] + 0.5
    canvas = np.zeros((280, 280), dtype=bool)
    radius = BRUSH_PX / 2
    for row, first, last in strokes(image):
        y = row * 10 + 5
        x0, x1 = first * 10 + 5, last * 10 + 5
        nearest_x = np.clip(xs, x0, x1)
        canvas |= (xs - nearest_x) ** 2 + (ys - y) ** 2 <= radius**2
    return canvas.reshape(28, 10, 28, 10).mean(axis=(1, 3)).reshape(784)


@dataclass
class Digits:
    model_path: Path
    test_x: np.ndarray
    test_y: np.ndarray
    expected: np.ndarray
    """The model's predictions for test_x."""
    canvas_index: int
    """A test image the model gets right both as it is and as the canvas renders its strokes."""


@pytest.fixture(scope="package")
def digits784(tmp_path_factory: pytest.TempPathFactory) -> Digits:
    """A LogisticRegression on the first 1,500 shipped MNIST training images (784 inputs in
    0..1), saved as the tutorial saves its model (2-3 s on 2 idle cores)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    x = head_images("train-images-idx3-ubyte.gz", TRAIN_IMAGES) / 255.0
    y = load_mnist("train-labels-idx1-ubyte.gz", True).reshape(-1)[:TRAIN_IMAGES]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=60).fit(x, y)  # ~86% on the test images
    folder = tmp_path_factory.mktemp("mnist784")
    path = folder / "sklearn_mnist_model.pkl"
    joblib.dump(clf, path)
    test_x = load_mnist("t10k-images-idx3-ubyte.gz")[:200] / 255.0
    test_y = load_mnist("t10k-labels-idx1-ubyte.gz", True).reshape(-1)[:200]
    expected = clf.predict(test_x)
    # The first image the model classifies right, confidently, both as MNIST gives it and as the
    # canvas will send it after the scripted strokes (thicker than the original pen).
    chosen = None
    for i in range(len(test_x)):
        if expected[i] != test_y[i]:
            continue
        proba = clf.predict_proba(rendered(test_x[i])[None, :])[0]
        if proba.argmax() == test_y[i] and proba.max() > 0.9:
            chosen = i
            break
    assert chosen is not None, "no test image survives the canvas rendering"
    return Digits(path, test_x, test_y, expected, chosen)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StudioWorld:
    ws: Any
    home: Path
    url: str
    port: int
    digits: Digits
    log: Path | None = None
    """The studio command's output (the URL it printed, and whatever it logged since)."""
    healthy: str = "mnist-svc"
    failing: str = "broken-svc"
    tokened: str = "token-svc"
    sampled: str = "sample-svc"
    """The tutorial's score.py again, deployed without auth and with a sample input (one test image)."""

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory, digits784: Digits) -> Iterator[StudioWorld]:
    """A workspace with the tutorial's service (key auth, Healthy), one whose init() fails, an
    echo service with token auth, the tutorial's again with a sample input and no auth, and
    ``modelport studio`` serving it."""
    tmp = tmp_path_factory.mktemp("studio")
    home = tmp / "mphome"
    from modelport.core.model import InferenceConfig, Model
    from modelport.core.webservice import AciWebservice, AksWebservice, LocalWebservice
    from modelport.deploy import engine
    from modelport.workspace import Workspace

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELPORT_HOME", str(home))
        mp.setenv("MODELPORT_ENV_CACHE", str(tmp / "envcache"))

        ws = Workspace.create("studiows")
        model = Model.register(
            ws,
            digits784.model_path,
            "sklearn_mnist",
            tags={"data": "mnist", "note": XSS},
            description=XSS,
        )
        src = tmp / "src"
        src.mkdir()
        shutil.copy(TUTORIAL_SCORE, src / "score.py")
        config = InferenceConfig(entry_script="score.py", source_directory=src)
        aci = AciWebservice.deploy_configuration(
            cpu_cores=1, memory_gb=1, auth_enabled=True, tags={"area": "mnist"}, description="the tutorial"
        )
        healthy = Model.deploy(ws, "mnist-svc", [model], config, aci)
        bad_src = tmp / "bad"
        bad_src.mkdir()
        shutil.copy(SCRIPTS / "init_fails.py", bad_src / "score.py")
        broken = Model.deploy(
            ws,
            "broken-svc",
            [model],
            InferenceConfig(entry_script="score.py", source_directory=bad_src),
            LocalWebservice.deploy_configuration(),
        )
        echo_src = tmp / "echo"
        echo_src.mkdir()
        shutil.copy(SCRIPTS / "plain_echo.py", echo_src / "score.py")
        aks = AksWebservice.deploy_configuration(token_auth_enabled=True)  # v1's token auth is AKS's
        with pytest.warns(UserWarning, match="without deployment_target: deploying to the local"):
            echo = InferenceConfig(entry_script="score.py", source_directory=echo_src)
            tokened = Model.deploy(ws, "token-svc", [model], echo, aks)
        sample_config = InferenceConfig(
            entry_script="score.py",
            source_directory=src,
            sample_input={"data": digits784.test_x[:1].round(4).tolist()},
        )
        sampled = Model.deploy(
            ws, "sample-svc", [model], sample_config, LocalWebservice.deploy_configuration()
        )
        healthy.wait_for_deployment(timeout_sec=120)
        tokened.wait_for_deployment(timeout_sec=120)
        sampled.wait_for_deployment(timeout_sec=120)
        failed = lambda: broken.update_deployment_state() or broken.state == "Failed"  # noqa: E731
        wait_until(failed, 120, "init() to fail")

    # The environment is set back here: the studio process gets its own, the tests use ``ws``.
    port = free_port()
    env = {
        **os.environ,
        "MODELPORT_HOME": str(home),
        "MODELPORT_ENV_CACHE": str(tmp / "envcache"),
        "MODELPORT_STUDIO_TOKEN": TOKEN,
        "PYTHONPATH": str(REPO),
    }
    log = open(tmp / "studio.log", "wb")  # noqa: SIM115  (closed at teardown)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelport.cli",
            "studio",
            "-w",
            "studiows",
            "--port",
            str(port),
            "--no-browser",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return (
                requests.get(
                    url + "/api/session", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2
                ).status_code
                == 200
            )
        except requests.RequestException:
            return proc.poll() is not None

    wait_until(up, 90, "the studio to answer")  # imports take seconds on a busy machine
    assert proc.poll() is None, (tmp / "studio.log").read_text()
    try:
        yield StudioWorld(ws, home, url, port, digits784, log=tmp / "studio.log")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
        for name in engine.names(ws):
            engine.delete(ws, name, missing_ok=True)


# Package-scoped, not session-scoped: a sync_playwright left running for the rest of the session
# makes every later sync_playwright() (another package's browser test) fail with "Sync API
# inside the asyncio loop", and the studio's services would keep running after its tests.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/test.sh installs Debian's chromium with apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@dataclass
class Tab:
    """A page of the studio in the browser, signed in, recording dialogs and script errors."""

    page: Any
    world: StudioWorld
    dialogs: list[str]
    errors: list[str]

    def open(self, fragment: str) -> Any:
        """Go to ``fragment`` (``#/services/x/test``) and wait until the page has drawn it: its
        <main> names the route and is no longer busy. (Waiting for an element instead raced the
        route the page was still drawing, which could finish later and draw over this one.)"""
        self.page.goto(f"{self.world.url}/{fragment}")
        self.settled(fragment)
        return self.page

    def settled(self, fragment: str | None = None) -> None:
        """Wait until the page shows ``fragment`` (default: the current one), fully drawn."""
        route = self.page.evaluate("location.hash") if fragment is None else fragment
        self.page.wait_for_selector(f'main[data-route="{route}"][aria-busy="false"]', state="attached")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so the ``tab`` fixture knows whether it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _page_state(page: Any, folder: Path) -> str:
    """What the page showed when a test failed: its URL, its main element's text, a screenshot."""
    shot = folder / "failed-page.png"
    try:
        page.screenshot(path=str(shot), full_page=True)
        main = page.evaluate(
            "() => { const m = document.getElementById('main'); if (!m) return '';"
            " return JSON.stringify(Object.assign({busy: m.ariaBusy}, m.dataset)) + ' '"
            " + m.innerText.slice(0, 1500) }"
        )
        return f"page {page.url}, screenshot {shot}:\n{main}"
    except Exception as exc:  # the page itself may be the thing that broke
        return f"page state unavailable: {exc}"


@pytest.fixture
def tab(browser: Any, world: StudioWorld, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)  # generous: the machine may be shared and busy
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.accept() if dialog.type == "confirm" else dialog.dismiss()

    page.on("dialog", on_dialog)
    # Sign in as a user does: the URL the command printed; the token becomes a cookie.
    page.goto(f"{world.url}/?token={TOKEN}")
    page.wait_for_selector("#workspace:has-text('studiows')")
    assert "token" not in page.url
    signed_in = Tab(page, world, dialogs, errors)
    signed_in.settled("")  # the first page (the services list) is drawn
    yield signed_in
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        print(_page_state(page, tmp_path))
    context.close()
    assert not errors, f"script errors on the page: {errors}"
