"""The tutorial's notebook, executed by a real kernel (nbclient), after train.py on a training subset."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from modelport.core import Workspace
from modelport.core.webservice import Webservice

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mnist"
NOTEBOOK = "img-classification-part2-deploy.ipynb"

pytestmark = [pytest.mark.process, pytest.mark.timeout(240)]


def outputs_text(nb: nbformat.NotebookNode) -> str:
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def test_notebook_deploys_scores_and_draws(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ("train.py", "utils.py", "score.py", NOTEBOOK):
        shutil.copy(EXAMPLE / name, folder / name)

    # Part 1, on 5,000 training images to keep it short.
    proc = subprocess.run(
        [sys.executable, "train.py", "--subset", "5000"],
        cwd=folder,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # Part 2: the notebook, run from its folder by a real kernel (which inherits MODELPORT_HOME).
    nb = nbformat.read(folder / NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    try:
        client.execute()
    finally:
        ws = Workspace.from_config(folder)
        for service in Webservice.list(ws):  # a failed run must not leave a server behind
            service.delete()

    text = outputs_text(nb)
    match = re.search(r"Overall accuracy: (\d\.\d+)", text)
    assert match, text
    assert float(match.group(1)) > 0.85
    matrix_rows = re.findall(r"^ ?\[\[? *(\d+(?: +\d+){9})\]", text, re.MULTILINE)
    assert len(matrix_rows) == 10, text
    row_sums = [sum(int(v) for v in row.split()) for row in matrix_rows]
    assert row_sums == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert "http://127.0.0.1:" in text and "prediction: [" in text

    # Both pictures are PNG files, and the two inline figures were drawn.
    for picture in ("conf.png", "predictions.png"):
        assert (folder / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    images = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if "image/png" in out.get("data", {})
    ]
    assert len(images) == 2

    # %%writefile wrote the tutorial's scoring script: the one shipped with the example.
    assert (folder / "score.py").read_text() == (EXAMPLE / "score.py").read_text()
