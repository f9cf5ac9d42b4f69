"""Reconciliation as a pure function: every transition, no process, no workspace."""

from __future__ import annotations

import pytest

from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.reconcile import DEPLOYER_GONE, NOT_READY, Observation, next_state
from modelport.deploy.records import ServiceRecord, ServiceState
from modelport.deploy.spec import DeploymentSpec

T, H, U, F, D = (
    ServiceState.TRANSITIONING,
    ServiceState.HEALTHY,
    ServiceState.UNHEALTHY,
    ServiceState.FAILED,
    ServiceState.DELETING,
)
READY = Observation(running=True, ready=True)
STARTING = Observation(running=True, ready=False)
GONE = Observation(running=False, failed=True, reason="the server (pid 1) is not running")
INIT_FAILED = Observation(running=True, failed=True, reason="Traceback ... RuntimeError: bad")


def _record(state: ServiceState, error: str | None = None) -> ServiceRecord:
    return ServiceRecord(name="svc", state=state, error=error)


@pytest.mark.parametrize(
    ("state", "observation", "expected"),
    [
        (T, READY, (H, None)),
        (T, STARTING, (T, None)),
        (T, GONE, (F, GONE.reason)),
        (T, INIT_FAILED, (F, INIT_FAILED.reason)),
        (H, READY, (H, None)),
        (H, STARTING, (U, NOT_READY)),
        (H, GONE, (F, GONE.reason)),
        (U, READY, (H, None)),
        (U, STARTING, (U, NOT_READY)),
        (F, READY, (F, "was failed")),
        (D, READY, (D, "was failed")),
    ],
)
def test_transitions(state: ServiceState, observation: Observation, expected: tuple) -> None:  # type: ignore[type-arg]
    assert next_state(_record(state, "was failed"), observation) == expected or (
        state not in (F, D) and next_state(_record(state), observation) == expected
    )


def test_no_handle_yet_depends_on_the_deployer() -> None:
    assert next_state(_record(T), None, deployer_alive=True) == (T, None)
    assert next_state(_record(T), None, deployer_alive=False) == (F, DEPLOYER_GONE)
    assert next_state(_record(H), None, deployer_alive=False) == (H, None)


def test_states_are_v1s_names_and_nothing_else() -> None:
    assert [s.value for s in ServiceState] == ["Transitioning", "Healthy", "Unhealthy", "Failed", "Deleting"]


def test_records_round_trip_through_json() -> None:
    spec = DeploymentSpec(
        models=("m:1",), entry_script="/srv/score.py", settings=DeploymentSettings(workers=2)
    )
    record = ServiceRecord(name="svc", handle={"pid": 1}, spec=spec)
    record.set_state(H, None)
    again = ServiceRecord.from_json(record.to_json())
    assert again == record and again.state is H and again.history[-1]["state"] == "Healthy"
