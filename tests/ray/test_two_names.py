"""One Ray cluster, two names (issue 21, point 1): the package's AKS cluster (conftest.py, which
other modules deploy web services to) attached as an AmlCompute target runs a ParallelRunStep's
workers as Ray actors; script runs need its Jobs API, which an AKS cluster does not run, and say so.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from modelport.core import Experiment, ScriptRunConfig, Workspace
from modelport.core.compute import AksCompute, AmlCompute, ComputeTarget, run_compute
from modelport.errors import ComputeTargetError
from modelport.jobs import batch
from modelport.jobs.batch import BatchInput, BatchSpec
from tests.ray.conftest import Provisioned

pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]

SCORE = """
import os

def run(mini_batch):
    return [f"{os.path.basename(p)} {open(p).read()}" for p in mini_batch]
"""


def test_an_aks_cluster_runs_batch_workers_under_an_amlcompute_name(
    ray_cluster: Provisioned, home: Path, tmp_path: Path
) -> None:
    ws = Workspace.create(name="twonames", exist_ok=True)
    aks = ray_cluster.attach(ws, "aks")
    cpu = ComputeTarget.attach(ws, "cpu", AmlCompute.attach_configuration(compute_target=aks))
    assert isinstance(aks, AksCompute) and isinstance(cpu, AmlCompute)
    assert cpu.cluster_address == aks.cluster_address  # the same Ray cluster
    assert set(ws.compute_targets) == {"aks", "cpu"}

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text(SCORE)
    files = []
    for i in range(20):
        f = tmp_path / "items" / f"{i:02d}.txt"
        f.parent.mkdir(exist_ok=True)
        f.write_text(str(i * i))
        files.append(str(f))
    spec = BatchSpec(
        entry_script="score.py",
        source_directory=str(tmp_path / "code"),
        interpreter=sys.executable,
        inputs=(BatchInput("items", "files", tuple(files)),),
        output_dir=str(tmp_path / "out"),
        mini_batch_size=4,
        process_count_per_node=1,
    )
    record = batch.submit(ws, "two-names", spec, compute=run_compute(ws, cpu))
    with open(tmp_path / "progress.txt", "w") as progress:
        final = batch.follow(ws, record.id, file=progress)
    assert final.status == "Completed", final.error
    rows = Counter((tmp_path / "out" / "parallel_run_step.txt").read_text().splitlines())
    assert rows == Counter(f"{i:02d}.txt {i * i}" for i in range(20))

    # The AKS name stays a web-service target; script runs need the Jobs API the cluster lacks.
    (tmp_path / "train.py").write_text("print('hi')\n")
    with pytest.raises(ComputeTargetError, match=r"'aks' is an AksCompute .*attach the same Ray cluster"):
        ScriptRunConfig(source_directory=str(tmp_path), script="train.py", compute_target=aks)
    config = ScriptRunConfig(source_directory=str(tmp_path), script="train.py", compute_target="cpu")
    with pytest.raises(ComputeTargetError, match="'cpu' \\(AmlCompute\\) runs no Ray Jobs API"):
        Experiment(ws, "two-names").submit(config)
    cpu.detach()
    assert ComputeTarget(ws, "aks").get_status() == "Succeeded"  # detaching one name left the other
