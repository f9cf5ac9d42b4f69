"""Reconciliation: the next state of a service from its record and what its target observes.

A pure function, so every transition is tested without a process (tests/deploy/test_reconcile.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from modelport.deploy.records import ServiceRecord, ServiceState

__all__ = ["Observation", "next_state"]


@dataclass(frozen=True)
class Observation:
    """What a target sees of a service now.

    ``running``: its processes (or replicas) exist. ``ready``: at least one can serve.
    ``failed``: it ended for good (init() failed, the process exited); ``reason`` says why.
    """

    running: bool
    ready: bool = False
    failed: bool = False
    reason: str | None = None


NOT_READY = "the server is running but not ready (see the service's logs)"
DEPLOYER_GONE = "the deploying process exited before the server was started"


def next_state(
    record: ServiceRecord, observation: Observation | None, deployer_alive: bool = True
) -> tuple[ServiceState, str | None]:
    """The state and error ``record`` moves to.

    ``observation`` is None when nothing was started yet (no handle); then only a deployer that
    died while Transitioning changes anything. Failed and Deleting are final here: only a new
    deployment, a restart or a delete leaves them.
    """
    state = record.state
    if state in (ServiceState.FAILED, ServiceState.DELETING):
        return state, record.error
    if observation is None:
        if state is ServiceState.TRANSITIONING and not deployer_alive:
            return ServiceState.FAILED, DEPLOYER_GONE
        return state, record.error
    if observation.failed or not observation.running:
        return ServiceState.FAILED, observation.reason or "the service stopped"
    if observation.ready:
        return ServiceState.HEALTHY, None
    if state is ServiceState.TRANSITIONING:
        return ServiceState.TRANSITIONING, observation.reason
    return ServiceState.UNHEALTHY, observation.reason or NOT_READY
