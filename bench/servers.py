"""The servers compared: how each is installed, laid out on disk, launched and spoken to.

- ``azmlinfsrv``: Azure's own v1 server, started through ``wrappers/azmlinfsrv_local.py`` so it
  binds 127.0.0.1; the tutorial's ``score.py`` unchanged.
- ``mlserver``: MLServer with its scikit-learn runtime, spoken to with the V2 JSON protocol;
  ``mlserver-batch``: the same with MLServer's adaptive batching (``max_batch_size`` 64,
  ``max_batch_time`` 0.002 s in model-settings.json).
- ``modelport``: ``python -m modelport.server`` in its own venv (modelport from this source tree,
  editable, plus the same scikit-learn/joblib/numpy pins); the same ``score.py``.
- ``modelport-typed``, ``modelport-npy``, ``modelport-batch``: the same server with
  ``bench/scripts/score_typed.py`` (``@array_input(dtype="float64", shape=(None, 784))``), sent the
  same JSON bodies, the same rows as ``application/x-npy``, and the JSON bodies with adaptive
  batching on (``--max-batch-size 64 --max-batch-latency-ms 2``).
- ``asgi-floor``: the floor of any in-process Python server (``wrappers/asgi_floor.py``): a bare
  ASGI app calling the same ``score.py``'s ``run()`` on the event loop, under uvicorn with
  httptools and uvloop, one process, no framework; in modelport's venv, so only the server differs.
- ``modelport-v2``, ``modelport-v2-binary``, ``modelport-v2-batch`` (bench/v2rows.py): the typed
  script spoken to as MLServer is, V2 JSON, V2 binary, and V2 JSON with the same batching flags.

Each runs with its default single worker.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.envs import BuiltEnv
from bench.model import MODEL_FILE, REPO
from bench.v2rows import V2Binary, V2Json

SCORE_SCRIPT = REPO / "examples" / "mnist" / "score.py"
TYPED_SCRIPT = Path(__file__).resolve().parent / "scripts" / "score_typed.py"
AZML_WRAPPER = Path(__file__).resolve().parent / "wrappers" / "azmlinfsrv_local.py"
FLOOR_APP_DIR = Path(__file__).resolve().parent / "wrappers"  # asgi_floor.py
MLSERVER_MODEL = "mnist"


class V1:
    """Azure ML v1: ``POST /score`` with ``{"data": rows}``; the reply is the list ``run()`` returned."""

    path = "/score"
    name = "v1 JSON"
    content_type = "application/json"

    def body(self, x: np.ndarray) -> bytes:
        return json.dumps({"data": x.tolist()}).encode()

    def predictions(self, body: bytes) -> list[int]:
        return [int(v) for v in json.loads(body)]


class Npy(V1):
    """modelport's binary input: the rows as numpy's ``.npy`` (float64), the reply as v1's."""

    name = "v1 npy (float64)"
    content_type = "application/x-npy"

    def body(self, x: np.ndarray) -> bytes:
        out = io.BytesIO()
        np.save(out, np.ascontiguousarray(x, dtype=np.float64), allow_pickle=False)
        return out.getvalue()


class V2:
    """The Open Inference (V2) protocol: one FP64 tensor of shape ``[n, 784]``, data flattened."""

    path = f"/v2/models/{MLSERVER_MODEL}/infer"
    name = "V2 JSON (FP64 tensor)"
    content_type = "application/json"

    def body(self, x: np.ndarray) -> bytes:
        data = x.reshape(-1).tolist()
        tensor = {"name": "predict", "shape": list(x.shape), "datatype": "FP64", "data": data}
        return json.dumps({"inputs": [tensor]}).encode()

    def predictions(self, body: bytes) -> list[int]:
        output = json.loads(body)["outputs"][0]
        return [int(v) for v in np.asarray(output["data"]).reshape(-1)]


@dataclass
class Launch:
    """What to run, where, and the ports it was given."""

    cmd: list[str]
    cwd: Path
    env: dict[str, str]
    port: int
    extra_ports: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def _base_env() -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set on some machines, this one included) would make every server
    # compile its own sources at each start, which no installed server does.
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _v1_layout(workdir: Path, model_path: Path, script: Path = SCORE_SCRIPT) -> tuple[Path, Path]:
    app, model_dir = workdir / "app", workdir / "model"
    app.mkdir(parents=True)
    model_dir.mkdir(parents=True)
    shutil.copyfile(script, app / "score.py")
    shutil.copyfile(model_path, model_dir / MODEL_FILE)
    return app, model_dir


class Server:
    """A server under test; subclasses fill in the three differences."""

    name = ""
    label = ""
    protocol: V1 | V2 = V1()
    ports_needed = 1
    package = ""  # the distribution whose version names the server
    env_name = ""  # servers with the same env_name share one venv (default: their own name)

    def requirements(self, sklearn_version: str) -> list[str] | None:
        """Pins for its own venv, or None to run from the bench's interpreter."""
        return None

    def launch(self, env: BuiltEnv | None, workdir: Path, model_path: Path, ports: list[int]) -> Launch:
        raise NotImplementedError

    def versions(self, env: BuiltEnv | None) -> dict[str, str]:
        return dict(env.installed) if env is not None else {}


class Azmlinfsrv(Server):
    name, label = "azmlinfsrv", "azureml-inference-server-http"
    package = "azureml-inference-server-http"

    def requirements(self, sklearn_version: str) -> list[str] | None:
        return ["azureml-inference-server-http==1.5.1", f"scikit-learn=={sklearn_version}", "joblib", "numpy"]

    def launch(self, env: BuiltEnv | None, workdir: Path, model_path: Path, ports: list[int]) -> Launch:
        assert env is not None
        app, model_dir = _v1_layout(workdir, model_path)
        cmd = [str(env.python), str(AZML_WRAPPER), "--entry_script", "score.py"]
        cmd += ["--model_dir", str(model_dir), "--port", str(ports[0])]
        settings = {"workers": "default (WORKER_COUNT=1, gunicorn sync)", "host": "127.0.0.1 via the wrapper"}
        return Launch(cmd, app, _base_env(), ports[0], settings=settings)


class MLServer(Server):
    name, label = "mlserver", "MLServer + mlserver-sklearn"
    package = "mlserver"
    env_name = "mlserver"
    protocol = V2()
    ports_needed = 2  # HTTP and gRPC (which MLServer always starts)

    def __init__(
        self, name: str = "mlserver", label: str = "", batch: tuple[int, float] | None = None
    ) -> None:
        """``batch``: MLServer's adaptive batching, (``max_batch_size``, ``max_batch_time`` in s)."""
        self.name, self.label, self.batch = name, label or self.label, batch

    def requirements(self, sklearn_version: str) -> list[str] | None:
        return [
            "mlserver==1.7.1",
            "mlserver-sklearn==1.7.1",
            "uvloop<0.22",  # MLServer 1.7.1 does not start with uvloop 0.22+
            f"scikit-learn=={sklearn_version}",
            "joblib",
            "numpy",
        ]

    def launch(self, env: BuiltEnv | None, workdir: Path, model_path: Path, ports: list[int]) -> Launch:
        assert env is not None
        root, model_dir = workdir / "mlserver", workdir / "mlserver" / MLSERVER_MODEL
        model_dir.mkdir(parents=True)
        shutil.copyfile(model_path, model_dir / MODEL_FILE)
        model_settings = {
            "name": MLSERVER_MODEL,
            "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": f"./{MODEL_FILE}"},
        }
        if self.batch is not None:
            model_settings["max_batch_size"], model_settings["max_batch_time"] = self.batch
        (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
        # gRPC cannot be turned off in MLServer: it gets a free port on 127.0.0.1 and no traffic.
        # metrics_endpoint null turns the metrics server off. parallel_workers is left at its default (1).
        settings = {
            "host": "127.0.0.1",
            "http_port": ports[0],
            "grpc_port": ports[1],
            "metrics_endpoint": None,
            "model_repository_root": str(root),
        }
        (root / "settings.json").write_text(json.dumps(settings, indent=2))
        cmd = [str(env.bin("mlserver")), "start", str(root)]
        shown = {**settings, "parallel_workers": "default (1)"}
        if self.batch is not None:
            shown["max_batch_size"], shown["max_batch_time"] = self.batch
        return Launch(cmd, root, _base_env(), ports[0], {"grpc": ports[1]}, shown)


def _modelport_runtime() -> list[str]:
    import tomllib

    return list(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])


class Modelport(Server):
    name, label = "modelport", "modelport (tutorial score.py)"
    package = "modelport"
    env_name = "modelport"

    def __init__(
        self,
        name: str = "modelport",
        label: str = "modelport (tutorial score.py)",
        script: Path = SCORE_SCRIPT,
        protocol: V1 | V2 = V1(),  # noqa: B008 - immutable
        extra: tuple[str, ...] = (),
    ) -> None:
        self.name, self.label, self.script, self.protocol, self.extra = name, label, script, protocol, extra

    def requirements(self, sklearn_version: str) -> list[str] | None:
        # Its own venv, like the others: the bench's .venv holds dev tools (pandas makes importing
        # scikit-learn ~0.5 s slower). Editable, so the venv runs this source tree; the runtime
        # dependencies are listed so that a new one gives a new venv.
        pins = [f"scikit-learn=={sklearn_version}", "joblib", "numpy"]
        return ["-e", str(REPO), *_modelport_runtime(), *pins]

    def launch(self, env: BuiltEnv | None, workdir: Path, model_path: Path, ports: list[int]) -> Launch:
        app, model_dir = _v1_layout(workdir, model_path, self.script)
        python = str(env.python) if env is not None else sys.executable
        cmd = [python, "-m", "modelport.server", "--entry-script", "score.py"]
        cmd += ["--model-dir", str(model_dir), "--port", str(ports[0]), *self.extra]
        settings = {"workers": "default", "script": self.script.name, "body": self.protocol.name}
        if self.extra:
            settings["flags"] = " ".join(self.extra)
        return Launch(cmd, app, _base_env(), ports[0], settings=settings)

    def versions(self, env: BuiltEnv | None) -> dict[str, str]:
        found = dict(env.installed) if env is not None else {}
        for dist in ("modelport", "uvicorn", "gunicorn", "orjson", "pysimdjson", "scikit-learn", "numpy"):
            if dist in found:
                continue
            try:
                found[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                found[dist] = "not installed"
        git = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True
        )
        if git.returncode == 0:
            found["git"] = git.stdout.strip()
        return found


class AsgiFloor(Server):
    """The bare ASGI floor (``wrappers/asgi_floor.py``) in modelport's venv."""

    name, label = "asgi-floor", "bare ASGI floor (uvicorn httptools+uvloop)"
    package = "uvicorn"
    env_name = "modelport"

    def requirements(self, sklearn_version: str) -> list[str] | None:
        return Modelport().requirements(sklearn_version)  # the same venv: only the server differs

    def launch(self, env: BuiltEnv | None, workdir: Path, model_path: Path, ports: list[int]) -> Launch:
        app, model_dir = _v1_layout(workdir, model_path)
        python = str(env.python) if env is not None else sys.executable
        cmd = [python, "-m", "uvicorn", "--app-dir", str(FLOOR_APP_DIR), "asgi_floor:app"]
        cmd += ["--host", "127.0.0.1", "--port", str(ports[0]), "--workers", "1"]
        cmd += ["--loop", "uvloop", "--http", "httptools", "--lifespan", "on", "--no-access-log"]
        launch_env = {**_base_env(), "AZUREML_MODEL_DIR": str(model_dir)}
        settings = {"workers": 1, "loop": "uvloop", "http": "httptools", "access_log": False}
        return Launch(cmd, app, launch_env, ports[0], settings=settings)

    def versions(self, env: BuiltEnv | None) -> dict[str, str]:
        names = ["uvicorn", "httptools", "uvloop", "scikit-learn", "numpy"]
        python = env.python if env is not None else Path(sys.executable)
        code = "import importlib.metadata as m, json, sys\n"
        code += "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
        out = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True)
        return dict(json.loads(out.stdout)) if out.returncode == 0 else {"uvicorn": "?"}


FLOOR = "asgi-floor"
TYPED = "modelport typed"
SERVERS: dict[str, Server] = {
    s.name: s
    for s in (
        Azmlinfsrv(),
        MLServer(),
        MLServer("mlserver-batch", "MLServer + mlserver-sklearn + batching", batch=(64, 0.002)),
        Modelport(),
        AsgiFloor(),
        Modelport("modelport-typed", f"{TYPED} JSON", TYPED_SCRIPT),
        Modelport("modelport-npy", f"{TYPED} npy", TYPED_SCRIPT, Npy()),
        Modelport("modelport-v2", f"{TYPED} V2 JSON", TYPED_SCRIPT, V2Json()),  # type: ignore[arg-type]
        Modelport("modelport-v2-binary", f"{TYPED} V2 binary", TYPED_SCRIPT, V2Binary()),  # type: ignore[arg-type]
        Modelport(
            "modelport-v2-batch",
            f"{TYPED} V2 JSON + batching",
            TYPED_SCRIPT,
            V2Json(),  # type: ignore[arg-type]
            extra=("--max-batch-size", "64", "--max-batch-latency-ms", "2"),
        ),
        Modelport(
            "modelport-batch",
            f"{TYPED} JSON + batching",
            TYPED_SCRIPT,
            extra=("--max-batch-size", "64", "--max-batch-latency-ms", "2"),
        ),
    )
}
