"""v1's ``azureml.pipeline.core.builder``: ``PipelineStep``, ``PipelineData`` and ``StepSequence``.

Example (v1's data-dependency notebook, ``azureml`` renamed)::

    processed_data1 = PipelineData("processed_data1", datastore=def_blob_store)
    train = PythonScriptStep(script_name="train.py", arguments=["--output_train", processed_data1],
                             outputs=[processed_data1], source_directory="train")
    extract = PythonScriptStep(script_name="extract.py", arguments=["--input_extract", processed_data1],
                               inputs=[processed_data1], source_directory="extract")
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from typing import Any

from modelport._refused import refused_method
from modelport.core.datastore import Datastore
from modelport.data.output_dataset_config import check_output_name
from modelport.errors import InvalidInputError, NotSupported
from modelport.pipeline.core._v1_extras import PipelineStepV1

__all__ = ["PipelineData", "PipelineStep", "StepSequence", "identity"]


class PipelineData:
    """A folder one step writes and later steps read (v1's intermediate data).

    Locally it is ``<datastore>/azureml/<pipeline run id>/<name>/``: the writing step gets that
    path as its argument, the reading steps get the same path, and they run after the writer.
    """

    def __init__(
        self,
        name: str,
        datastore: Datastore | None = None,
        output_name: str | None = None,
        output_mode: str = "mount",
        output_path_on_compute: str | None = None,
        output_overwrite: bool | None = None,
        data_type: str | None = None,
        is_directory: bool | None = None,
        pipeline_output_name: str | None = None,
        training_output: Any = None,
    ) -> None:
        self._name = check_output_name(name, "PipelineData")
        if datastore is not None and not isinstance(datastore, Datastore):
            raise InvalidInputError(
                f"PipelineData '{name}': datastore must be a Datastore (ws.get_default_datastore()), "
                f"got {type(datastore).__name__}"
            )
        if output_mode not in ("mount", "upload"):
            raise InvalidInputError(f"PipelineData '{name}': output_mode must be 'mount' or 'upload'")
        if training_output is not None:
            raise NotSupported(
                f"PipelineData '{name}': training_output names AutoML/HyperDrive outputs, which need Azure"
            )
        self.datastore = datastore
        self.data_type = data_type or "AnyDirectory"  # v1's default; recorded, a folder either way
        self._output_name = check_output_name(output_name, "output") if output_name else self._name
        self._mode = "mount"
        self._input_name: str | None = None
        self._producer: Any = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def datastore_name(self) -> str | None:
        return self.datastore.name if self.datastore is not None else None

    _PATH = "the step gets the folder's path as its argument; read it from sys.argv (argparse)"
    get_env_variable_name = refused_method("PipelineData.get_env_variable_name", _PATH)
    create_input_binding = refused_method("PipelineData.create_input_binding", _PATH)

    def as_input(self, input_name: str) -> PipelineData:
        """This data read by a step under another input name."""
        out = copy.copy(self)
        out._input_name = check_output_name(input_name, "input")
        return out

    def as_mount(self) -> PipelineData:
        return self

    def as_download(
        self, input_name: str | None = None, path_on_compute: str | None = None, overwrite: Any = None
    ) -> PipelineData:
        out = copy.copy(self)
        out._mode = "download"
        if input_name:
            out._input_name = check_output_name(input_name, "input")
        return out

    def as_dataset(self) -> _PipelineDataView:
        """This data read as a file dataset (v1's ``PipelineOutputFileDataset``)."""
        return _PipelineDataView(self, "files", {})

    def __copy__(self) -> PipelineData:
        out = PipelineData.__new__(PipelineData)
        out.__dict__.update(self.__dict__)
        out._origin = getattr(self, "_origin", self)  # type: ignore[attr-defined]
        return out

    def __repr__(self) -> str:
        return f"PipelineData(name={self._name!r})"


class _PipelineDataView:
    """``pipeline_data.as_dataset()`` (files) or ``.parse_delimited_files()`` (rows)."""

    def __init__(self, data: PipelineData, kind: str, read: dict[str, Any], name: str | None = None) -> None:
        self.data = data
        self.kind = kind
        self.read = read
        self.name = name or data._input_name or data.name

    def as_named_input(self, name: str) -> _PipelineDataView:
        return _PipelineDataView(self.data, self.kind, self.read, check_output_name(name, "input"))

    def as_mount(self) -> _PipelineDataView:
        return self

    def as_download(self) -> _PipelineDataView:
        return self

    def parse_delimited_files(
        self, include_path: bool = False, separator: str = ",", header: Any = True, **_v1: Any
    ) -> _PipelineDataView:
        read = {"format": "delimited", "separator": separator, "header": bool(header), "encoding": "utf-8"}
        return _PipelineDataView(self.data, "tabular", {**read, "include_path": include_path}, self.name)

    def parse_parquet_files(self, include_path: bool = False, **_v1: Any) -> _PipelineDataView:
        return _PipelineDataView(
            self.data, "tabular", {"format": "parquet", "include_path": include_path}, self.name
        )


class PipelineStep(PipelineStepV1):
    """What every step shares: a name, inputs, outputs, arguments and ``run_after``.

    Subclasses (``PythonScriptStep``, ``ParallelRunStep``, ...) check their arguments when they
    are made and describe themselves to the pipeline's plan (``_graph``).
    """

    def __init__(
        self,
        name: str,
        inputs: Iterable[Any] | None,
        outputs: Iterable[Any] | None,
        arguments: Iterable[Any] | None = None,
        allow_reuse: bool = True,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(f"a step's name must be a non-empty string, got {name!r}")
        self.name = name
        self._inputs = _as_list(inputs, f"step '{name}': inputs")
        self._outputs = _as_list(outputs, f"step '{name}': outputs")
        self._arguments = _as_list(arguments, f"step '{name}': arguments")
        if not isinstance(allow_reuse, bool):
            raise InvalidInputError(f"step '{name}': allow_reuse must be True or False, got {allow_reuse!r}")
        self.allow_reuse = allow_reuse
        self._after: list[PipelineStep] = []
        for out in self._written():
            origin = identity(out)
            producer = getattr(origin, "_producer", None)
            if producer is not None and producer is not self:
                raise InvalidInputError(
                    f"step '{name}' writes output '{out.name}', which step '{producer.name}' already writes: "
                    "an output has one step that writes it"
                )
            origin._producer = self

    def run_after(self, step: PipelineStep) -> None:
        """Run this step after ``step``, with no data passed between them."""
        if not isinstance(step, PipelineStep):
            raise InvalidInputError(f"run_after takes a step, got {type(step).__name__}")
        if step is self:
            raise InvalidInputError(f"step '{self.name}' cannot run after itself")
        if step not in self._after:
            self._after.append(step)

    def _written(self) -> list[Any]:
        """The outputs this step declares it writes (outputs=[...] and OutputFileDatasetConfigs
        among its arguments)."""
        from modelport.data.output_dataset_config import OutputDatasetConfig

        found = [o for o in self._outputs if isinstance(o, PipelineData | OutputDatasetConfig)]
        found += [a for a in self._arguments if isinstance(a, OutputDatasetConfig) and a not in found]
        return [getattr(o, "base", o) for o in found]

    def _graph(self, builder: Any) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class StepSequence:
    """Steps to run one after another: ``StepSequence(steps=[a, b, c])`` (an item may be a list of
    steps, which run side by side after the item before)."""

    def __init__(self, steps: Iterable[Any] | None = None) -> None:
        groups: list[list[PipelineStep]] = []
        for item in _as_list(steps, "StepSequence steps"):
            group = list(item) if isinstance(item, list | tuple) else [item]
            if not group or not all(isinstance(s, PipelineStep) for s in group):
                raise InvalidInputError("StepSequence takes steps, or lists of steps")
            groups.append(group)
        for before, after in itertools.pairwise(groups):
            for step in after:
                for earlier in before:
                    step.run_after(earlier)
        self.steps = [s for g in groups for s in g]


def identity(data: Any) -> Any:
    """The output ``data`` is, or is a view or copy of (``as_input()``, ``register_on_complete()``)."""
    data = getattr(data, "data", None) or getattr(data, "output", None) or getattr(data, "base", None) or data
    return getattr(data, "_origin", data)


def _as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInputError(f"{what} must be a list, got {type(value).__name__}")
    return list(value)
