"""What every v1 class of a run shares, and which class a run's record opens as.

An experiment's runs come back as the class of their kind: a script's or an interactive run as
``Run``, a pipeline's as ``PipelineRun`` (``modelport.pipeline``, a layer above). Each class
declares the kinds it stands for in its own class statement (``class PipelineRun(Run,
kinds=("pipeline",))``), as a polymorphic identity: ``Experiment`` opens records through this
base and imports none of them (``Run`` sits above ``Experiment``: ``run.experiment`` is one).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from modelport.registry.runs import RunRecord

__all__ = ["RunBase"]


class RunBase:
    """A run's record seen through v1's classes."""

    _kinds: ClassVar[dict[str, type[RunBase]]] = {}
    """A run kind (``script``, ``pipeline``, ...) -> its class; ``""``: any other kind."""

    experiment: Any
    _record: RunRecord
    _outputs: str | None

    def __init_subclass__(cls, kinds: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for kind in kinds:
            RunBase._kinds[kind] = cls

    @classmethod
    def _wrap(cls, experiment: Any, record: RunRecord, outputs: str | None = None) -> Self:
        """``record`` as a run of ``experiment``: of its kind's class when asked through a general
        class (``RunBase``, ``Run``), else of ``cls``."""
        chosen: type[RunBase] = cls
        if cls is RunBase or RunBase._kinds.get("") is cls:
            chosen = RunBase._kinds.get(record.kind) or RunBase._kinds[""]
        run = object.__new__(chosen)
        run.experiment = experiment
        run._record = record
        run._outputs = outputs
        return run  # type: ignore[return-value]  # a subclass of cls (or cls itself)
