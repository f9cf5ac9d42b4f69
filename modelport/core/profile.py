"""``ModelProfile``: v1's ``Model.profile`` result, measured on this machine.

Example::

    profile = Model.profile(ws, "sklearn-profile", [model], inference_config, input_dataset=requests_ds)
    profile.wait_for_completion(show_output=True)
    details = profile.get_details()       # latency percentiles, req/s, recommendedCpu, ...
"""

from __future__ import annotations

import json
from typing import Any

from modelport.core.inference import InferenceConfig, deployment_spec
from modelport.deploy import profile as profiling
from modelport.deploy.configs import aci_configuration
from modelport.errors import InvalidInputError
from modelport.workspace import Workspace

__all__ = ["ModelProfile"]


def requests_of(dataset: Any) -> list[bytes]:
    """The request bodies a profiling dataset holds: a tabular dataset's first column, a file
    dataset's lines, or a list of strings / JSON-able values."""
    if hasattr(dataset, "to_pandas_dataframe"):
        frame = dataset.to_pandas_dataframe()
        if frame.shape[1] < 1:
            raise InvalidInputError("input_dataset has no column of request bodies")
        values = list(frame.iloc[:, 0])
    elif hasattr(dataset, "to_path") and hasattr(dataset, "download"):
        import tempfile
        from pathlib import Path

        folder = tempfile.mkdtemp(prefix="modelport-profile-")
        values = []
        for path in dataset.download(folder, overwrite=True):
            values += [line for line in Path(path).read_text().splitlines() if line.strip()]
    elif isinstance(dataset, list | tuple):
        values = list(dataset)
    else:
        raise InvalidInputError(
            f"input_dataset must be a Dataset (tabular: one column of request bodies) or a list, "
            f"got {type(dataset).__name__}"
        )
    return [
        v if isinstance(v, bytes) else (v if isinstance(v, str) else json.dumps(v)).encode() for v in values
    ]


class ModelProfile:
    """A profile of models behind an inference config (v1's ``azureml.core.profile.ModelProfile``).

    The measurement runs on :meth:`wait_for_completion` (or :meth:`get_details`); ``ModelProfile(ws,
    name)`` reads a finished one back."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = profiling.check_profile_name(name)
        self._run: profiling.ProfileRun | None = None
        self._details: dict[str, Any] | None = profiling.load_profile(workspace, self.name)

    @classmethod
    def _pending(cls, workspace: Workspace, run: profiling.ProfileRun) -> ModelProfile:
        profile = cls.__new__(cls)
        profile.workspace, profile.name, profile._run, profile._details = workspace, run.name, run, None
        return profile

    @property
    def state(self) -> str:
        return "Succeeded" if self._details is not None else "NotStarted"

    def wait_for_completion(self, show_output: bool = False) -> None:
        """Run the measurement (deploy, replay, measure, delete) if it has not run yet."""
        if self._details is None:
            assert self._run is not None
            say = (lambda line: print(line, flush=True)) if show_output else (lambda _line: None)
            self._details = profiling.run_profile(self.workspace, self._run, say)

    def get_details(self) -> dict[str, Any]:
        """The figures: latency percentiles, measured req/s, peak memory and CPU, and the
        ``recommendedCpu`` / ``recommendedMemoryInGB`` they lead to."""
        self.wait_for_completion()
        assert self._details is not None
        return dict(self._details)

    def serialize(self) -> dict[str, Any]:
        return self.get_details()

    @property
    def recommended_cpu(self) -> float:
        return float(self.get_details()["recommendedCpu"])

    @property
    def recommended_memory(self) -> float:
        return float(self.get_details()["recommendedMemoryInGB"])

    def __repr__(self) -> str:
        return f"ModelProfile(name={self.name!r}, state={self.state!r})"


def create(
    workspace: Workspace,
    name: str,
    models: list[Any],
    inference_config: Any,
    input_dataset: Any,
    cpu: float | None,
    memory_in_gb: float | None,
    description: str | None,
) -> ModelProfile:
    if not models:
        raise InvalidInputError("models: give at least one registered Model")
    if not isinstance(inference_config, InferenceConfig):
        raise InvalidInputError("inference_config is required (an InferenceConfig with the entry script)")
    settings = aci_configuration(cpu_cores=cpu or 1.0, memory_gb=memory_in_gb or 1.0)
    run = profiling.ProfileRun(
        profiling.check_profile_name(name),
        deployment_spec([m.id for m in models], inference_config, settings),
        requests_of(input_dataset),
        description,
    )
    return ModelProfile._pending(workspace, run)
