"""Every import line of the public v1 deployment notebooks resolves with azureml renamed, and what
cannot run locally says so with one error, catchable by its v1 name (issue 12, point 1 and
"bad input"): the 10-minute quickstart's AmlCompute cell (a configuration; the cluster itself is
tests/ray's), a ScriptRunConfig on a cluster the workspace does not know, an image build."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from modelport.exceptions import ComputeTargetException, UserErrorException, WebserviceException

# The import lines of deploy-to-local, model-register-and-deploy (no-code), multi-model,
# production-deploy-to-aks, controlled rollout (AksEndpoint), enable-app-insights, onnx, the
# MNIST tutorial parts 1-3 and the 10-minute quickstart, azureml renamed.
NOTEBOOK_IMPORTS = """
from modelport.core import Workspace, Experiment, Environment, Model, Dataset, Datastore, Run, ScriptRunConfig
from modelport.core import ComputeTarget, Webservice, Image, VERSION, RunConfiguration
from modelport.core.model import Model, InferenceConfig
from modelport.core.webservice import Webservice, LocalWebservice, AciWebservice, AksWebservice, AksEndpoint
from modelport.core.compute import AksCompute, ComputeTarget, AmlCompute
from modelport.core.compute_target import ComputeTargetException
from modelport.core.workspace import Workspace
from modelport.core.environment import Environment
from modelport.core.conda_dependencies import CondaDependencies
from modelport.core.resource_configuration import ResourceConfiguration
from modelport.core.image import Image, ContainerImage
from modelport.core.runconfig import RunConfiguration
from modelport.core.experiment import Experiment
from modelport.core.run import Run
from modelport.core.dataset import Dataset
from modelport.core.datastore import Datastore
from modelport.data import TabularDataset, FileDataset
from modelport.exceptions import WebserviceException, ModelNotFoundException, UserErrorException
from modelport.exceptions import ComputeTargetException, ActivityFailedException, AzureMLException
from modelport.widgets import RunDetails
from modelport.opendatasets import MNIST
from modelport.contrib.services.aml_request import AMLRequest, rawhttp
from modelport.contrib.services.aml_response import AMLResponse
"""


@pytest.mark.parametrize("line", [line for line in NOTEBOOK_IMPORTS.strip().splitlines()])
def test_notebook_import_lines_resolve(line: str) -> None:
    exec(line, {})  # an ImportError here is the bug this guards against


def test_v1_exception_names_are_the_error_tree() -> None:
    errors = importlib.import_module("modelport.errors")
    assert issubclass(errors.ServiceNotFound, WebserviceException)
    assert issubclass(errors.DeploymentError, WebserviceException)
    assert issubclass(errors.ServiceUnavailable, WebserviceException)
    assert issubclass(errors.NotSupported, UserErrorException)


def test_the_quickstarts_compute_cell_makes_a_configuration(home: Path) -> None:
    """The quickstart's AmlCompute cell: the configuration is v1's (a Ray cluster is started by
    ComputeTarget.create; tests/ray does that), and its try/except finds no cluster yet."""
    from modelport.core import Workspace
    from modelport.core.compute import AmlCompute, ComputeTarget

    ws = Workspace.create(name="quickstart", exist_ok=True)
    with pytest.raises(ComputeTargetException):
        ComputeTarget(workspace=ws, name="cpu-cluster")  # the quickstart's try/except ComputeTargetException
    compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4)
    assert compute_config.scale_settings.maximum_node_count == 4
    assert compute_config.vm_size == "STANDARD_D2_V2"
    with pytest.raises(ComputeTargetException, match="max nodes count is mandatory"):
        AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2")  # as v1 refuses it


def test_a_script_run_on_an_unknown_cluster_is_refused(home: Path, tmp_path: Path) -> None:
    from modelport.core import Experiment, ScriptRunConfig, Workspace

    ws = Workspace.create(name="remote", exist_ok=True)
    (tmp_path / "train.py").write_text("print('hi')\n")
    with pytest.raises(ComputeTargetException, match="'cpu-cluster' does not exist"):
        config = ScriptRunConfig(
            source_directory=str(tmp_path), script="train.py", compute_target="cpu-cluster"
        )
        Experiment(ws, "remote-exp").submit(config)


def test_an_image_build_is_refused_naming_the_alternatives() -> None:
    from modelport.core.image import ContainerImage

    with pytest.raises(UserErrorException, match="deploy_from_model"):
        ContainerImage.create(None, "img", [], None)


def test_a_missing_service_is_a_webservice_exception(home: Path) -> None:
    from modelport.core import Workspace
    from modelport.core.webservice import Webservice

    ws = Workspace.create(name="missing", exist_ok=True)
    with pytest.raises(WebserviceException, match="not found"):
        Webservice(ws, "no-such-svc")


def test_run_details_prints_a_runs_status_and_metrics(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from modelport.core import Experiment, Run, Workspace
    from modelport.widgets import RunDetails

    RunDetails(Run.get_context()).show()  # offline, as in a notebook outside a submitted script
    assert "(offline)" in capsys.readouterr().out
    ws = Workspace.create(name="widgets", exist_ok=True)
    run = Experiment(ws, "exp").start_logging()
    run.log("accuracy", 0.92)
    run.complete()
    RunDetails(run).show()
    out = capsys.readouterr().out
    assert "of experiment exp: Completed" in out and "accuracy: 0.92" in out
