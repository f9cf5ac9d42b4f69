"""The executor interface: how mini-batches reach worker processes, and nothing more.

An executor starts workers (each runs the entry script's ``init()`` once), hands a worker a
task, kills a worker when told, and reports what happened as events. It holds no policy: which
task goes where, retries, timeouts, thresholds, replacing a dead worker, exactly-once output
and resume are the supervisor's (:mod:`modelport.jobs.batch.supervisor`). A second executor
(Ray actors, issue 21) is one more module implementing :class:`Executor`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "Done",
    "Event",
    "Executor",
    "ExecutorUnavailable",
    "InitFailed",
    "Lost",
    "Ready",
    "Slot",
    "TaskResult",
    "WorkerSetup",
]


@dataclass(frozen=True, order=True)
class Slot:
    """A worker's place: node ``node``, process ``process`` (a replacement takes the same slot,
    so its logs continue the same files)."""

    node: int
    process: int

    @property
    def node_name(self) -> str:
        return f"node{self.node:03d}"

    @property
    def process_name(self) -> str:
        return f"process{self.process:03d}"

    def __str__(self) -> str:
        return f"{self.node_name}/{self.process_name}"


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker of a run needs: the interpreter, the variables, the worker config file
    (see :mod:`modelport.jobs.batch.worker`) and the run's folder for log files."""

    interpreter: str
    environment: dict[str, str]
    config_file: str
    run_folder: str
    cwd: str
    variables: dict[str, str] = field(default_factory=dict)
    """The run's own variables (``environment`` without this process's): what a worker on
    another machine gets."""
    user_variables: dict[str, str] = field(default_factory=dict)
    """Those of ``variables`` the user gave (``environment_variables``): they may matter from the
    worker's first instruction (``OMP_NUM_THREADS``, ...), so they are set when it starts."""
    compute: dict[str, Any] | None = None
    """Where the workers run, for an executor that runs them elsewhere (a RayCompute's JSON)."""


@dataclass
class TaskResult:
    """What ``run()`` did with one mini-batch, as the worker reports it.

    ``items`` is how many items the mini-batch held when read (a DataFrame's rows, the files);
    ``rows`` the encoded output (``append_row``) and ``row_count`` how many elements ``run()``
    returned; ``error``/``traceback`` are set when ``run()`` raised (or the return value could
    not be used)."""

    items: int
    row_count: int = 0
    rows: bytes = b""
    error: str | None = None
    traceback: str | None = None
    started: float = 0.0  # time.time() when run() was called
    read_seconds: float = 0.0
    run_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_wire(self) -> dict[str, Any]:
        return self.__dict__.copy()

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> TaskResult:
        return cls(**data)


@dataclass(frozen=True)
class Ready:
    """A worker finished ``init()`` and takes tasks."""

    slot: Slot
    pid: int
    init_seconds: float
    where: str = ""
    """Where the worker runs, when not on this machine (a Ray node)."""


@dataclass(frozen=True)
class InitFailed:
    """A worker's ``init()`` (or importing the entry script) raised; the worker has ended."""

    slot: Slot
    error: str
    traceback: str


@dataclass(frozen=True)
class Done:
    """A worker finished a task (``result.ok`` or not); it stays up for the next one."""

    slot: Slot
    task: int
    result: TaskResult


@dataclass(frozen=True)
class Lost:
    """A worker ended without being told to (killed, out of memory, ``os._exit``); ``tasks`` are
    the tasks it held, the first of which it was running."""

    slot: Slot
    reason: str
    tasks: tuple[int, ...] = field(default=())


Event = Ready | InitFailed | Done | Lost


class ExecutorUnavailable(Exception):
    """What the workers run on is gone as a whole (a Ray cluster that stopped answering): no
    worker can be replaced there, so the run ends Failed with this cause (and can be resumed)."""


class Executor(Protocol):
    """Runs workers somewhere; see the module docstring for what it must not decide."""

    name: str

    def start_worker(self, slot: Slot) -> None:
        """Start a worker in ``slot`` (it reports :class:`Ready` or :class:`InitFailed` later)."""

    def send(self, slot: Slot, task: int, payload: dict[str, Any]) -> None:
        """Queue task ``task`` on the worker in ``slot`` (it runs its tasks in the order sent)."""

    def kill_worker(self, slot: Slot) -> None:
        """End the worker in ``slot`` now (a run() past its timeout); no :class:`Lost` follows."""

    def poll(self, timeout: float) -> list[Event]:
        """What happened since the last call, waiting up to ``timeout`` seconds for something."""

    def pids(self) -> dict[Slot, int]:
        """The process id of each live worker on this machine (for logs and resource use)."""

    def close(self) -> None:
        """End every worker (tell them to stop, then kill what is left)."""
