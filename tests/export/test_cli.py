"""``modelport package`` and ``modelport export``: the real CLI in a subprocess, on the export
tests' workspace (its deployed digits service); files written, and one-line errors (exit 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.export.conftest import SERVICE, Exported
from tests.server.conftest import TUTORIAL_SCORE

CLI = str(Path(sys.executable).parent / "modelport")


def modelport(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it; MODELPORT_HOME and the env cache are the fixture's (inherited)."""
    command, *rest = args
    return subprocess.run(
        [CLI, command, "-w", "exportws", *rest], capture_output=True, text=True, timeout=600, cwd=cwd
    )


def one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_export_writes_a_context_and_every_format(exported: Exported, tmp_path: Path) -> None:
    out = tmp_path / "cli-all"
    proc = modelport("export", SERVICE, "-o", str(out), "--format", "kubernetes,kserve,kuberay", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["formats"] == ["kubernetes", "kserve", "kuberay"] and data["context"] == str(out)
    assert data["image"].startswith(f"{SERVICE}:")
    for name in ("Dockerfile", ".dockerignore", "requirements.lock", "modelport.lock", "serve.json"):
        assert (out / name).is_file(), name
    written = {Path(p).relative_to(out).as_posix() for p in data["manifests"]}
    assert written == {
        f"kubernetes/{SERVICE}.yaml",
        "kubernetes/service.yaml",
        "kserve/inferenceservice.yaml",
        "kuberay/rayservice.yaml",
    }
    (deployment,) = yaml.safe_load_all((out / "kubernetes" / f"{SERVICE}.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == data["image"]
    # The default image is <service>:<model version> (issue 19: it was the internal deployment id).
    assert data["image"] == f"{SERVICE}:1"
    text = modelport("export", SERVICE, "-o", str(tmp_path / "text")).stdout
    assert f"docker build -t {SERVICE}:1 {tmp_path / 'text'}" in text


def test_export_help_says_how_to_name_the_image() -> None:
    text = modelport("export", "--help").stdout
    assert "--image NAME:TAG" in text and "<service>:<model version>" in " ".join(text.split())


def test_export_docker_is_the_build_context_only(exported: Exported, tmp_path: Path) -> None:
    out = tmp_path / "cli-docker"
    proc = modelport("export", SERVICE, "-o", str(out), "--format", "docker", "--image", "mnist:7")
    assert proc.returncode == 0, proc.stderr
    assert f"docker build -t mnist:7 {out}" in proc.stdout
    assert (out / "Dockerfile").is_file()
    assert not any((out / fmt).exists() for fmt in ("kubernetes", "kserve", "kuberay"))


def test_export_errors_are_one_line(exported: Exported, tmp_path: Path) -> None:
    one_line_error(modelport("export", "no-such-svc", "-o", str(tmp_path / "a")), "no-such-svc")
    one_line_error(
        modelport("export", SERVICE, "-o", str(tmp_path / "b"), "--format", "helm"), "'helm'", "kserve"
    )
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    one_line_error(modelport("export", SERVICE, "-o", str(full)), "not empty")
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_package_writes_a_build_context(exported: Exported, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    proc = modelport(
        "package",
        "--model",
        "sklearn_mnist:1",
        "--entry-script",
        str(TUTORIAL_SCORE),
        "--image-name",
        "mnist",
        "--image-label",
        "3",
        "-o",
        str(out),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["imageName"], data["imageLabel"], data["output"]) == ("mnist", "3", str(out))
    assert (out / "Dockerfile").is_file() and (out / "app" / "score.py").is_file()
    assert (out / "app" / "azureml-models" / "sklearn_mnist" / "1" / "sklearn_mnist_model.pkl").is_file()
    lock = (out / "requirements.lock").read_text()
    assert "scikit-learn==" in lock and "--hash=sha256:" in lock
    # The build context holds no log and no package record; its log is the package's own.
    assert not (out / "service.log").exists() and not (out / "package.json").exists()
    from modelport.deploy.export.package import ModelPackage

    package = ModelPackage.deserialize(exported.ws, data)  # type: ignore[arg-type]
    assert "requirements locked" in package.get_logs()


def test_package_errors_are_one_line(exported: Exported, tmp_path: Path) -> None:
    base = ["package", "--entry-script", str(TUTORIAL_SCORE)]
    one_line_error(modelport(*base, "--model", "nope:1", "-o", str(tmp_path / "a")), "nope")
    one_line_error(
        modelport(*base, "--model", "sklearn_mnist:1", "--image-name", "Bad Name", "-o", str(tmp_path / "b")),
        "image_name",
    )
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    one_line_error(modelport(*base, "--model", "sklearn_mnist:1", "-o", str(full)), "not empty")
