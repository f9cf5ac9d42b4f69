"""v1's ``env.docker.base_image`` / ``base_dockerfile`` and ``DEFAULT_CPU_IMAGE``, imports renamed
(issue 22, part 4): recorded and shown locally, and the exported Dockerfile builds on them (an
Azure ML image name mapped to its public equivalent, said in the Dockerfile and the context's
README.md). The Dockerfiles are linted with hadolint; no Docker daemon runs here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from modelport.core import Environment, Workspace
from modelport.core.conda_dependencies import CondaDependencies
from modelport.core.environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import LocalWebservice

pytestmark = pytest.mark.process

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
BIN = Path(sys.executable).parent
SCORE = "def init():\n    pass\n\ndef run(raw):\n    return raw\n"


@pytest.fixture
def ws(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    Path("score.py").write_text(SCORE)
    Path("model.txt").write_text("unused")
    return Workspace.create("docker-ws")


def export(ws: Workspace, env: Environment, folder: str) -> tuple[DockerfileParser, str, str]:
    model = Model.register(ws, model_path="model.txt", model_name="m")
    package = Model.package(
        ws, [model], InferenceConfig(entry_script="score.py", environment=env), generate_dockerfile=True
    )
    package.wait_for_creation(show_output=True)
    package.save(folder)
    path = Path(folder) / "Dockerfile"
    lint = subprocess.run([str(BIN / "hadolint"), str(path)], capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    parsed = DockerfileParser(path=str(path))
    readme = Path(folder) / "README.md"
    return parsed, parsed.content, readme.read_text() if readme.is_file() else ""


def run_stage(parsed: DockerfileParser) -> str:
    froms = [i["value"] for i in parsed.structure if i["instruction"] == "FROM"]
    return froms[-1]


def test_default_cpu_image_maps_to_its_public_equivalent(ws: Workspace) -> None:
    env = Environment("cpu-env")
    env.docker.base_image = DEFAULT_CPU_IMAGE
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    env = env.register(ws)
    assert Environment.get(ws, "cpu-env").docker.base_image == DEFAULT_CPU_IMAGE
    parsed, text, readme = export(ws, env, "cpu-image")
    assert run_stage(parsed) == f"python:{PYTHON}-slim"
    said = f"base image {DEFAULT_CPU_IMAGE} is Azure ML's; its public equivalent python:{PYTHON}-slim"
    assert said in text and said in readme
    assert DEFAULT_GPU_IMAGE.startswith("mcr.microsoft.com/azureml/")


def test_another_base_image_is_built_on(ws: Workspace) -> None:
    env = Environment("cuda-env")
    env.docker.base_image = "nvidia/cuda:12.4.1-runtime-ubuntu22.04"
    parsed, text, readme = export(ws, env.register(ws), "cuda-image")
    assert run_stage(parsed) == "nvidia/cuda:12.4.1-runtime-ubuntu22.04"
    # The base has no Python of the environment's version: uv's standalone build comes with it.
    assert f"uv python install {PYTHON}" in text
    assert "COPY --from=build /opt/python /opt/python" in text
    assert "builds on the environment's base image nvidia/cuda:12.4.1-runtime-ubuntu22.04" in readme


def test_a_base_dockerfile_is_the_first_stage(ws: Workspace) -> None:
    # v1's docs: "Specify docker steps as a string", the base image set to None.
    dockerfile = r"""
FROM mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04:20210615.v1
RUN echo "Hello from custom container!"
"""
    env = Environment("dockerfile-env")
    env.docker.base_image = None
    env.docker.base_dockerfile = dockerfile
    env = env.register(ws)
    parsed, text, readme = export(ws, env, "from-dockerfile")
    froms = [i["value"] for i in parsed.structure if i["instruction"] == "FROM"]
    assert froms[0] == f"python:{PYTHON}-slim AS modelport-base"  # Azure ML's image, mapped
    assert run_stage(parsed) == "modelport-base"
    assert 'RUN echo "Hello from custom container!"' in text
    assert "its Azure ML image mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04:20210615.v1" in readme
    # The v1 form that names a file instead of the text.
    Path("Dockerfile.base").write_text("FROM ubuntu:22.04\nRUN echo from-a-file\n")
    env = Environment("dockerfile-file-env")
    env.docker.base_dockerfile = "./Dockerfile.base"
    assert "RUN echo from-a-file" in (env.register(ws).docker.base_dockerfile or "")


def test_locally_the_base_image_is_recorded_and_shown(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    env = Environment("local-docker-env")
    env.docker.base_image = DEFAULT_CPU_IMAGE
    env.python.user_managed_dependencies = True  # this interpreter: nothing to build
    env = env.register(ws)
    model = Model.register(ws, model_path="model.txt", model_name="m")
    service = Model.deploy(
        ws,
        "docker-svc",
        [model],
        InferenceConfig(entry_script="score.py", environment=env),
        LocalWebservice.deploy_configuration(),
        show_output=True,
    )
    service.wait_for_deployment()
    line = f"docker base {DEFAULT_CPU_IMAGE} is recorded: a local service runs no container"
    assert line in capsys.readouterr().out
    assert line in service.get_logs()
    shown = subprocess.run(
        [sys.executable, "-m", "modelport.cli", "environment", "show", "local-docker-env", "-w", ws.name],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ,
    )
    assert shown.returncode == 0 and DEFAULT_CPU_IMAGE in shown.stdout, shown.stderr
    service.delete()
