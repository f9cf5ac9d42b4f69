"""The last v1 members that did not resolve (issue 22, part 2), each behaving as v1 documents it:
compute targets' ``deserialize``, ``refresh_state``, ``get_credentials`` and ``update``, the
workspace's default cluster configurations, the data configurations' ``arg_val``, the exceptions'
attributes and ``StepRunOutput``'s ``context`` and ``step_output``.

The compute targets here are real records of a real workspace naming a Ray cluster that is not
running (an attached address nothing listens on): what these members do with a live cluster (its
node count) is tested against the Ray test package's cluster in ``tests/ray/test_provision.py``.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.core import Dataset, Workspace
from modelport.core.compute import (
    AksCompute,
    AmlCompute,
    AmlComputeProvisioningConfiguration,
    ComputeTarget,
)
from modelport.core.datastore import Datastore
from modelport.data import OutputFileDatasetConfig
from modelport.data.dataset_consumption_config import DatasetConsumptionConfig
from modelport.deploy import cluster
from modelport.errors import ComputeTargetError, InvalidInputError, NotSupported, RunFailed
from modelport.exceptions import ParallelRunException, WorkspacePrivateEndpointException
from modelport.pipeline.core import PortDataReference, StepRunOutput


@pytest.fixture
def nowhere() -> Iterator[str]:
    """A loopback address nothing answers on for the whole test: a port held bound, never
    listening (a connection to it is refused, and no other process can take it meanwhile)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{s.getsockname()[1]}"


def _attached(
    ws: Workspace, name: str, address: str, kind: str = "AKS", token: str | None = "s3cret-token"
) -> None:
    """Record an attached cluster ``name`` at ``address`` in ``ws`` (as ``ComputeTarget.attach``
    does, without a cluster to check against)."""
    record = cluster.ClusterRecord(name=name, address=address, owned=False, kind=kind)
    if token is not None:
        record.token_file = str(cluster.write_token(cluster.token_path(ws, name), token))
    cluster.save(ws, record)


# -- Workspace.DEFAULT_*_CLUSTER_CONFIGURATION ------------------------------------------------------
def test_default_cluster_configurations_are_v1s() -> None:
    from modelport.core.workspace import Workspace as workspace_class

    cpu = workspace_class.DEFAULT_CPU_CLUSTER_CONFIGURATION
    gpu = workspace_class.DEFAULT_GPU_CLUSTER_CONFIGURATION
    for config, size in ((cpu, "STANDARD_DS2_V2"), (gpu, "STANDARD_NC6")):
        assert isinstance(config, AmlComputeProvisioningConfiguration)
        assert (config.vm_size, config.vm_priority) == (size, "dedicated")
        scale = config.scale_settings
        assert (scale.minimum_node_count, scale.maximum_node_count) == (0, 2)
    # What ComputeTarget.create dispatches on: an AmlCompute (a Ray cluster here).
    assert isinstance(cpu, AmlCompute._provisions)  # type: ignore[arg-type]
    assert workspace_class.DEFAULT_CPU_CLUSTER_NAME == "cpu-cluster"


# -- ComputeTarget / AksCompute ----------------------------------------------------------------------
def test_serialize_then_deserialize_gives_the_same_target(home: Path, nowhere: str) -> None:
    ws = Workspace.create("ws1")
    address = nowhere
    _attached(ws, "aks1", address)
    aks = ComputeTarget(ws, "aks1")
    assert type(aks) is AksCompute

    saved = json.loads(json.dumps(aks.serialize()))  # through JSON, as v1 code keeps it
    assert saved["workspace"] == "ws1" and saved["address"] == address

    for via in (AksCompute, ComputeTarget):
        again = via.deserialize(ws, saved)
        assert type(again) is AksCompute
        assert (again.name, again.cluster_address, again.serialize()) == ("aks1", address, aks.serialize())


def test_deserialize_refuses_what_is_not_that_target(home: Path, nowhere: str) -> None:
    ws = Workspace.create("ws1")
    other = Workspace.create("ws2")
    _attached(ws, "aks1", nowhere)
    _attached(ws, "cpu1", nowhere, kind="AmlCompute")
    saved = ComputeTarget(ws, "aks1").serialize()

    with pytest.raises(ComputeTargetError, match="serialized from workspace 'ws1', not 'ws2'"):
        AksCompute.deserialize(other, saved)
    with pytest.raises(ComputeTargetError, match=r"is the Ray cluster at .*, not 10\.0\.0\.9:6379"):
        AksCompute.deserialize(ws, {**saved, "address": "10.0.0.9:6379"})
    with pytest.raises(ComputeTargetError, match="is an AKS target, not AmlCompute"):
        ComputeTarget.deserialize(ws, {**saved, "type": "AmlCompute"})
    cpu = ComputeTarget(ws, "cpu1").serialize()
    with pytest.raises(ComputeTargetError, match=r"is an AmlCompute target: use AmlCompute\.deserialize"):
        AksCompute.deserialize(ws, cpu)
    assert type(ComputeTarget.deserialize(ws, cpu)) is AmlCompute
    with pytest.raises(ComputeTargetError, match="'gone' does not exist in this workspace"):
        AksCompute.deserialize(ws, {**saved, "name": "gone"})
    with pytest.raises(InvalidInputError, match=r"needs the dict serialize\(\) gave"):
        AksCompute.deserialize(ws, "aks1")  # type: ignore[arg-type]


def test_refresh_state_reads_the_record_again(home: Path, nowhere: str) -> None:
    ws = Workspace.create("ws1")
    _attached(ws, "aks1", nowhere)
    aks = ComputeTarget(ws, "aks1")
    assert aks.agent_count == 1

    # Another process (or object) changes the target's record.
    record = cluster.load(ws, "aks1")
    record.agent_count = 3
    record.settings = {"tags": {"team": "vision"}}
    cluster.save(ws, record)
    assert aks.agent_count == 1  # not until refreshed, as in v1

    aks.refresh_state()
    assert aks.agent_count == 3  # the cluster does not answer: the recorded count stands
    assert aks._record.settings == {"tags": {"team": "vision"}}
    assert aks.provisioning_state == "Failed"

    cluster.delete(ws, "aks1")
    with pytest.raises(ComputeTargetError, match="'aks1' does not exist"):
        aks.refresh_state()


def test_get_credentials_names_where_the_token_is_never_the_token(
    home: Path, nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = Workspace.create("ws1")
    address = nowhere
    _attached(ws, "aks1", address, token="s3cret-token")
    creds = AksCompute(ws, "aks1").get_credentials()
    print(creds)
    assert creds["address"] == address
    assert creds["authentication"] == "token"
    assert creds["tokenPathVariable"] == "RAY_AUTH_TOKEN_PATH"
    token_file = Path(creds["tokenFile"])
    assert token_file.read_text() == "s3cret-token"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert "s3cret-token" not in json.dumps(creds) and "s3cret-token" not in capsys.readouterr().out

    _attached(ws, "open1", nowhere, token=None)
    open_creds = AksCompute(ws, "open1").get_credentials()
    assert (open_creds["authentication"], open_creds["tokenFile"], open_creds["tokenPathVariable"]) == (
        "none",
        None,
        None,
    )


def test_aks_update_is_refused_naming_the_local_way(home: Path, nowhere: str) -> None:
    ws = Workspace.create("ws1")
    _attached(ws, "aks1", nowhere)
    with pytest.raises(NotSupported) as info:
        AksCompute(ws, "aks1").update(object())
    message = str(info.value)
    assert message.startswith("AksCompute.update: ") and "\n" not in message
    assert "ssl_enabled=True" in message  # where TLS is served here


# -- arg_val ------------------------------------------------------------------------------------------
def test_arg_val_is_v1s_placeholder(home: Path, tmp_path: Path) -> None:
    ws = Workspace.create("ws1")
    (tmp_path / "a.csv").write_text("x\n1\n")
    ws.get_default_datastore().upload_files([str(tmp_path / "a.csv")], target_path="d", overwrite=True)
    ds = Dataset.File.from_files((ws.get_default_datastore(), "d/a.csv"))

    named = ds.as_named_input("train").as_mount()
    assert named.arg_val == "DatasetConsumptionConfig:train"
    assert DatasetConsumptionConfig("scores", ds).arg_val == "DatasetConsumptionConfig:scores"

    out = OutputFileDatasetConfig(name="prepared")
    assert out.arg_val == "DatasetOutputConfig:prepared"
    assert out.read_delimited_files().arg_val == "DatasetOutputConfig:prepared"
    assert out.register_on_complete("prepared_ds").arg_val == "DatasetOutputConfig:prepared"


# -- exceptions ---------------------------------------------------------------------------------------
def test_parallel_run_exception_carries_v1s_retry_settings() -> None:
    plain = ParallelRunException("the scorer is down")
    assert (plain.code, plain.delay_seconds, plain.message) == (None, 0, "the scorer is down")
    exc = ParallelRunException("the scorer is down", code="Retry.RestartProcess", delay_seconds=2.5)
    assert (exc.code, exc.delay_seconds, str(exc)) == ("Retry.RestartProcess", 2.5, "the scorer is down")
    assert isinstance(exc, RunFailed) and exc.run_id is None
    with pytest.raises(InvalidInputError, match=r"code must be one of Retry\.NoRetry"):
        ParallelRunException("m", code="Retry.Later")
    with pytest.raises(InvalidInputError, match="delay_seconds must be a number >= 0"):
        ParallelRunException("m", delay_seconds=-1)


def test_private_endpoints_raise_v1s_exception(home: Path) -> None:
    from modelport.core import PrivateEndPointConfig

    ws = Workspace.create("ws1")
    for use in (lambda: ws.add_private_endpoint(PrivateEndPointConfig), PrivateEndPointConfig):
        with pytest.raises(WorkspacePrivateEndpointException) as info:
            use()
        assert info.value.found_multiple is False
        assert isinstance(info.value, NotSupported)  # code catching the refusal keeps catching it
        assert "127.0.0.1" in str(info.value)
    assert WorkspacePrivateEndpointException("m", found_multiple=True).found_multiple is True


# -- StepRunOutput ------------------------------------------------------------------------------------
def test_step_run_output_context_and_step_output(home: Path) -> None:
    ws = Workspace.create("ws1")
    store = Datastore(ws, "workspaceblobstore")
    reference = PortDataReference(store, "azureml/run1/scores", "scores", "pipeline-run-1")
    output = StepRunOutput(
        "scores", reference, None, {"datastore": "workspaceblobstore", "path": "azureml/run1/scores"}
    )
    assert output.context == ws
    assert output.step_output == {
        "name": "scores",
        "datastore": "workspaceblobstore",
        "path": "azureml/run1/scores",
    }
    assert output.get_port_data_reference() is reference
