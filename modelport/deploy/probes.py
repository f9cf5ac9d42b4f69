"""v1's probe timings applied to the local target's readiness, the way Kubernetes applies them.

Without any timing set, readiness is checked on every observation (as before). With one set,
the target probes its server's ``/health/ready`` no sooner than ``initial_delay_seconds`` after
the server started, then at most every ``period_seconds``, each probe allowed ``timeout_seconds``;
the service becomes ready after ``success_threshold`` probes in a row answered, and stops being
ready after ``failure_threshold`` in a row did not. The state lives in the bundle's
``probe.json`` (any process observing the service continues the same count), which is also the
record of what the probes saw.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from modelport.deploy.keywords import PROBES

__all__ = ["PROBE_FILE", "ProbeState", "ProbeTimings", "next_state", "probed"]

PROBE_FILE = "probe.json"
DEFAULT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ProbeTimings:
    """The timings a deployment asked for (None: Kubernetes' default where one applies)."""

    period_seconds: int | None = None
    initial_delay_seconds: int | None = None
    timeout_seconds: int | None = None
    success_threshold: int | None = None
    failure_threshold: int | None = None

    @classmethod
    def of(cls, settings: Any) -> ProbeTimings | None:
        """The timings ``settings`` (a DeploymentSettings) set; None when it set none."""
        values = {name: getattr(settings, name, None) for name in PROBES}
        return cls(**values) if any(v is not None for v in values.values()) else None

    @property
    def timeout(self) -> float:
        return float(self.timeout_seconds) if self.timeout_seconds else DEFAULT_TIMEOUT_S


@dataclass
class ProbeState:
    """What the probes saw: the last probe's time, the current run of successes or failures,
    whether the service counts as ready, and when it last became ready (epoch seconds)."""

    last: float = 0.0
    successes: int = 0
    failures: int = 0
    ready: bool = False
    probes: int = 0
    ready_since: float | None = None

    @classmethod
    def read(cls, path: Path) -> ProbeState:
        try:
            data = json.loads(path.read_text())
            return cls(**{k: data[k] for k in asdict(cls()) if k in data})
        except (OSError, ValueError, TypeError):
            return cls()

    def write(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(asdict(self)))
        os.replace(tmp, path)  # readers never see half a file


def next_state(state: ProbeState, answered: bool, now: float, timings: ProbeTimings) -> ProbeState:
    """The state after one probe (pure): Kubernetes' readiness rule with these thresholds."""
    successes = state.successes + 1 if answered else 0
    failures = 0 if answered else state.failures + 1
    ready, since = state.ready, state.ready_since
    if not ready and successes >= (timings.success_threshold or 1):
        ready, since = True, now
    elif ready and failures >= (timings.failure_threshold or 3):
        ready = False
    return ProbeState(now, successes, failures, ready, state.probes + 1, since)


def probed(folder: Path, started: float, timings: ProbeTimings, probe: Callable[[float], bool]) -> bool:
    """Whether the server started at ``started`` (epoch seconds) counts as ready now; ``probe``
    (called with its timeout) asks the server, only when a probe is due."""
    now = time.time()
    if now - started < (timings.initial_delay_seconds or 0):
        return False  # no probe before the initial delay: not ready yet
    path = folder / PROBE_FILE
    state = ProbeState.read(path)
    if state.probes and now - state.last < (timings.period_seconds or 0):
        return state.ready  # not due: what the last probes concluded
    state = next_state(state, probe(timings.timeout), now, timings)
    state.write(path)
    return state.ready
