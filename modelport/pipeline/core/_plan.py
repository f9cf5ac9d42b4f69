"""From v1 objects to a run's plan, in two stages.

1. :class:`GraphBuilder` turns a ``Pipeline``'s steps into a *graph*: JSON with no v1 object,
   where a ``PipelineParameter`` is still ``{"param": name}`` and a dataset is its definition.
   A published pipeline keeps its graph; every check on a step's wiring happens here, before any
   process starts.
2. :func:`resolve` fills a graph with parameter values (the defaults, or those given at submit or
   in a REST call), checks them, and turns every dataset into its files: the *plan* that
   :mod:`modelport.jobs.pipeline` runs.
"""

from __future__ import annotations

from typing import Any

from modelport.core.dataset import (
    DatasetConsumptionConfig,
    FileDataset,
    TabularDataset,
    _Registered,
    dataset_from_ref,
    dataset_ref,
    is_single_file,
)
from modelport.core.datastore import DataReference, Datastore
from modelport.data.datapath import DataPath, DataPathComputeBinding
from modelport.data.output_dataset_config import OutputDatasetConfig, OutputFileDatasetConfig, OutputInput
from modelport.errors import InvalidInputError, ModelportError
from modelport.pipeline.core.builder import PipelineData, PipelineStep, _PipelineDataView, identity
from modelport.pipeline.core.graph import PipelineParameter, parameter_type
from modelport.registry import datastores as stores
from modelport.workspace import Workspace

__all__ = ["GraphBuilder", "resolve"]

PIPELINE_DATA_PATH = "azureml/{run-id}/{output-name}"
OUTPUT_DATASET_PATH = "dataset/{run-id}/{output-name}"


def collect(steps: list[PipelineStep], resolve_closure: bool = True) -> list[PipelineStep]:
    """The pipeline's steps: those given and, with ``resolve_closure``, every step they wait for
    (the writers of their inputs and their ``run_after`` steps), as v1 did."""
    found: list[PipelineStep] = []
    todo = list(steps)
    while todo:
        step = todo.pop(0)
        if any(step is s for s in found):
            continue
        found.append(step)
        if not resolve_closure:
            continue
        todo.extend(step._after)
        for obj in [*step._inputs, *step._arguments, *getattr(step, "_side_inputs", [])]:
            producer = getattr(identity(obj), "_producer", None)
            if isinstance(obj, PipelineData | OutputInput | _PipelineDataView) and producer is not None:
                todo.append(producer)
    return found


class GraphBuilder:
    """Describe a pipeline's steps as a graph (see the module's docstring)."""

    def __init__(
        self,
        workspace: Workspace,
        steps: list[PipelineStep],
        default_datastore: Datastore,
        default_source_directory: str | None = None,
    ) -> None:
        self.ws = workspace
        self.default_datastore = default_datastore
        self.default_source_directory = default_source_directory
        self.steps = steps
        self.parameters: dict[str, dict[str, Any]] = {}
        self.ids: dict[int, str] = {}
        self.writers: dict[int, tuple[PipelineStep, Any]] = {}  # id(output) -> (step, output object)
        taken: set[str] = set()
        for step in steps:
            base = "".join(c if c.isalnum() or c in "-_." else "_" for c in step.name)[:60] or "step"
            sid, n = base, 1
            while sid in taken:
                n += 1
                sid = f"{base}_{n}"
            taken.add(sid)
            self.ids[id(step)] = sid
        names: dict[str, str] = {}
        for step in steps:
            for out in step._written():
                origin = identity(out)
                if id(origin) in self.writers and self.writers[id(origin)][0] is not step:
                    other = self.writers[id(origin)][0]
                    raise InvalidInputError(
                        f"output '{out.name}' is written by two steps, '{other.name}' and '{step.name}'"
                    )
                if out.name in names and names[out.name] != step.name:
                    raise InvalidInputError(
                        f"two outputs are named '{out.name}' (steps '{names[out.name]}' and '{step.name}'): "
                        "give them different names"
                    )
                names[out.name] = step.name
                self.writers[id(origin)] = (step, out)
        self.current: PipelineStep | None = None
        self._inputs: dict[str, Any] = {}
        self._outputs: dict[str, Any] = {}

    # -- what a step's _graph() calls ------------------------------------------------------------
    def begin(self, step: PipelineStep) -> None:
        self.current, self._inputs, self._outputs = step, {}, {}
        for out in step._written():
            self.output(out)

    def end(self, graph_step: dict[str, Any]) -> dict[str, Any]:
        step = self.current
        assert step is not None
        after = []
        for earlier in step._after:
            if id(earlier) not in self.ids:
                raise InvalidInputError(
                    f"step '{step.name}' runs after '{earlier.name}', which is not in the pipeline "
                    "(add it to the steps, or keep resolve_closure=True)"
                )
            after.append(self.ids[id(earlier)])
        return {
            "id": self.ids[id(step)],
            "name": step.name,
            "after": after,
            "allow_reuse": step.allow_reuse,
            "inputs": self._inputs,
            "outputs": self._outputs,
            **graph_step,
        }

    def value(self, value: Any, what: str) -> dict[str, Any]:
        """A plain value or a PipelineParameter, as an item (``{"v": ...}`` or ``{"param": ...}``)."""
        if isinstance(value, PipelineParameter):
            return {"param": self.param(value, what)}
        if isinstance(value, bool | int | float | str):
            return {"v": value}
        raise InvalidInputError(f"{what} must be a number, a string or a PipelineParameter, got {value!r}")

    def param(self, p: PipelineParameter, what: str) -> str:
        default = _param_default(p)
        known = self.parameters.get(p.name)
        if known is not None and known["default"] != default:
            raise InvalidInputError(
                f"two pipeline parameters are named '{p.name}' with "
                "different defaults; give them different names"
            )
        self.parameters[p.name] = {"type": p.type, "default": default}
        return p.name

    def argument(self, arg: Any) -> dict[str, Any]:
        """A script argument as an item: a value, a parameter, an input or an output."""
        step = self.current
        assert step is not None
        if isinstance(arg, PipelineData) and id(identity(arg)) in self.writers:
            writer, _ = self.writers[id(identity(arg))]
            if writer is step and not any(identity(i) is identity(arg) for i in step._inputs):
                return {"output": arg.name}
        if isinstance(arg, OutputDatasetConfig):
            return {"output": arg.name}
        if isinstance(
            arg, PipelineData | OutputInput | _PipelineDataView | DatasetConsumptionConfig | DataReference
        ):
            return {"input": self.input(arg)}
        if isinstance(arg, DataPath) or (isinstance(arg, tuple) and len(arg) == 2):
            return {"input": self.input(arg)}
        if isinstance(arg, _Registered):
            raise InvalidInputError(
                f"step '{step.name}': a dataset argument must say how the script gets it: "
                "ds.as_named_input('name') (or .as_mount() / .as_download())"
            )
        return self.value(arg, f"step '{step.name}': argument {arg!r}")

    def input(self, obj: Any) -> str:
        """Register ``obj`` as an input of the current step and return its name."""
        step = self.current
        assert step is not None
        name, spec = self._input_spec(step, obj)
        if name in self._inputs and self._inputs[name] != spec:
            raise InvalidInputError(f"step '{step.name}' has two different inputs named '{name}'")
        self._inputs[name] = spec
        return name

    def output(self, out: Any) -> str:
        step = self.current
        assert step is not None
        if isinstance(out, PipelineData):
            datastore = out.datastore or self.default_datastore
            spec: dict[str, Any] = {"datastore": datastore.name, "path": PIPELINE_DATA_PATH, "register": None}
        elif isinstance(out, OutputDatasetConfig):
            base = getattr(out, "base", out)
            assert isinstance(base, OutputFileDatasetConfig)
            datastore, path = base.destination or (self.default_datastore, OUTPUT_DATASET_PATH)
            spec = {
                "datastore": datastore.name,
                "path": path.strip("/") or OUTPUT_DATASET_PATH,
                "register": out._registration,
            }
        else:
            raise InvalidInputError(
                f"step '{step.name}': an output is a PipelineData or an OutputFileDatasetConfig, got "
                f"{type(out).__name__}"
            )
        self._outputs[out.name] = spec
        return str(out.name)

    # -- inputs ----------------------------------------------------------------------------------
    def _input_spec(self, step: PipelineStep, obj: Any) -> tuple[str, dict[str, Any]]:
        if isinstance(obj, PipelineData | OutputInput | _PipelineDataView):
            origin = identity(obj)
            if id(origin) not in self.writers:
                raise InvalidInputError(
                    f"step '{step.name}' reads '{origin.name}', "
                    "which no step of the pipeline writes: add the "
                    "step that lists it in its outputs (or has it among its arguments)"
                )
            writer, written = self.writers[id(origin)]
            if writer is step:
                raise InvalidInputError(f"step '{step.name}' reads its own output '{origin.name}'")
            kind = getattr(obj, "kind", "files")
            name = getattr(obj, "name", None) if not isinstance(obj, PipelineData) else None
            name = name or getattr(obj, "_input_name", None) or written.name
            spec = {
                "kind": "step",
                "step": self.ids[id(writer)],
                "output": written.name,
                "as": kind,
                "reader": getattr(obj, "read", {}) or {},
                "mode": "download"
                if getattr(obj, "_mode", getattr(obj, "mode", "mount")) == "download"
                else "mount",
            }
            if getattr(obj, "partition_format", None):
                raise InvalidInputError(
                    f"step '{step.name}': reading another step's output with a partition_format is not "
                    "supported here; partition the data in the step that writes it"
                )
            return name, spec
        if isinstance(obj, DatasetConsumptionConfig):
            ds = obj.dataset
            if isinstance(ds, PipelineParameter):
                if ds.type != "dataset":
                    raise InvalidInputError(
                        f"dataset input '{obj.name}': its PipelineParameter '{ds.name}' must have a dataset "
                        "as its default value"
                    )
                ref: dict[str, Any] = {"param": self.param(ds, f"input '{obj.name}'")}
            else:
                _check_workspace(ds, self.ws, obj.name)
                ref = dataset_ref(ds, f"input '{obj.name}'")
            return obj.name, {"kind": "dataset", "dataset": ref, "mode": obj.mode}
        if isinstance(obj, DataReference):
            path = str(obj.local_path)
            return obj.data_reference_name, {"kind": "path", "path": path}
        if isinstance(obj, DataPath):
            return obj.name, {"kind": "datapath", "datapath": obj._to_ref()}
        if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[1], DataPathComputeBinding):
            target = obj[0]
            if isinstance(target, PipelineParameter) and target.type == "datapath":
                return target.name, {"kind": "datapath", "datapath": {"param": self.param(target, "input")}}
            if isinstance(target, DataPath):
                return target.name, {"kind": "datapath", "datapath": target._to_ref()}
        if isinstance(obj, _Registered):
            raise InvalidInputError(
                f"step '{step.name}': give a dataset input a name and a mode: ds.as_named_input('name')"
            )
        raise InvalidInputError(
            f"step '{step.name}': {obj!r} cannot be an input; an input is a dataset "
            "(ds.as_named_input(name)), a PipelineData, an "
            "output's .as_input(), a DataReference or a DataPath"
        )

    def build(self) -> list[dict[str, Any]]:
        return [step._graph(self) for step in self.steps]


def _param_default(p: PipelineParameter) -> Any:
    if p.type == "dataset":
        return dataset_ref(p.default_value, f"pipeline parameter '{p.name}'")
    if p.type == "datapath":
        return p.default_value._to_ref()
    return p.default_value


def _check_workspace(ds: Any, ws: Workspace, name: str) -> None:
    owner = getattr(ds, "_workspace", None)
    if owner is not None and owner != ws:
        raise InvalidInputError(
            f"dataset input '{name}' reads workspace '{owner.name}', not the pipeline's '{ws.name}'"
        )


# -- stage 2: a graph and parameter values -> a plan ----------------------------------------------
def parameter_values(graph: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    """The graph's parameters with ``given`` values (checked against each default's kind)."""
    params = graph.get("parameters") or {}
    given = dict(given or {})
    unknown = sorted(set(given) - set(params))
    if unknown:
        have = ", ".join(sorted(params)) or "none"
        raise InvalidInputError(
            "pipeline_parameters: the pipeline has no parameter "
            f"{', '.join(map(repr, unknown))}; its parameters: {have}"
        )
    values = {}
    for name, spec in params.items():
        if name not in given:
            values[name] = spec["default"]
            continue
        value = given[name]
        kind = spec["type"]
        if kind in ("dataset", "datapath"):
            got = (
                parameter_type(value, f"pipeline parameter '{name}'") if not isinstance(value, dict) else kind
            )
            if got != kind:
                raise InvalidInputError(
                    f"pipeline parameter '{name}' takes a {kind}, got {type(value).__name__}"
                )
            values[name] = (
                value
                if isinstance(value, dict)
                else dataset_ref(value, name)
                if kind == "dataset"
                else value._to_ref()
            )
            continue
        values[name] = _coerce(name, kind, value)
    return values


def _coerce(name: str, kind: str, value: Any) -> Any:
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "string": isinstance(value, str | int | float) and not isinstance(value, bool),
    }[kind]
    if not ok:
        raise InvalidInputError(
            f"pipeline parameter '{name}' takes {'an' if kind == 'int' else 'a'} {kind} (like its default), "
            f"got {value!r}"
        )
    return float(value) if kind == "float" else str(value) if kind == "string" else value


def _fill(item: Any, values: dict[str, Any]) -> Any:
    if isinstance(item, dict) and set(item) == {"param"}:
        return values[item["param"]]
    return item


def _item(item: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """An argument item with its parameter filled in; a script gets every value as text."""
    if "param" in item:
        return {"v": str(values[item["param"]])}
    if "v" in item:
        return {"v": str(item["v"])}
    return item


def _dataset_input(ws: Workspace, name: str, ref: dict[str, Any], mode: str) -> dict[str, Any]:
    ds = dataset_from_ref(ws, ref)
    files = [{"source": f.source, "path": f.path} for f, _ in ds._partitioned()]
    partitions = [values for _f, values in ds._partitioned()]
    if not files:
        raise InvalidInputError(f"dataset input '{name}' holds no file")
    if isinstance(ds, TabularDataset):
        if ds._definition.get("ops"):
            raise InvalidInputError(
                f"dataset input '{name}': a tabular dataset with "
                "take/skip/keep_columns/drop_columns cannot be "
                "split into files here; select the rows and columns in the script instead"
            )
        return {
            "kind": "tabular",
            "files": files,
            "reader": ds._definition["read"],
            "dataset": dataset_ref(ds, name),
            "partitions": partitions,
            "partition_keys": ds.partition_keys,
        }
    assert isinstance(ds, FileDataset)
    root = None
    sources = ds._sources
    if len(sources) == 1 and "url" not in sources[0] and not any(c in str(sources[0]) for c in "*?["):
        src = sources[0]
        root = (
            str(stores.resolve(ws, src["datastore"], src["path"] or None))
            if "datastore" in src
            else src["local"]
        )
    return {
        "kind": "files",
        "files": files,
        "single": is_single_file(ds),
        "root": root,
        "mode": mode,
        "partitions": partitions,
        "partition_keys": ds.partition_keys,
    }


def _compute(ws: Workspace, step: dict[str, Any]) -> dict[str, Any]:
    """The Ray cluster a step runs on, looked up now (a published pipeline's too) and checked: it
    answers, it runs Ray's Jobs API for a script step, a ParallelRunStep's ``node_count`` is
    within its ``max_nodes``. One line naming the step, before any run starts."""
    from modelport.core.compute import run_compute
    from modelport.jobs.ray import check, check_node_count

    try:
        compute = run_compute(ws, step["compute"])
        assert compute is not None  # a graph names no compute for this machine
        check(compute, jobs=step["kind"] == "script")
        if step.get("batch"):
            check_node_count(compute, int(step["batch"]["node_count"]))
    except ModelportError as exc:
        raise type(exc)(f"step '{step['name']}': {exc}") from None
    return compute.to_json()


def resolve(
    ws: Workspace,
    graph: dict[str, Any],
    parameters: dict[str, Any] | None = None,
    *,
    regenerate_outputs: bool = False,
    continue_on_step_failure: bool | None = None,
) -> dict[str, Any]:
    """The plan for one run of ``graph`` with ``parameters`` (see the module's docstring)."""
    from modelport.pipeline.steps.parallel_run_config import check_batch_values

    values = parameter_values(graph, parameters)
    steps = []
    for g in graph["steps"]:
        step = {
            k: v
            for k, v in g.items()
            if k not in ("inputs", "arguments", "command", "environment_variables", "batch")
        }
        step["arguments"] = [_item(i, values) for i in g.get("arguments") or []]
        step["command"] = [_item(i, values) for i in g["command"]] if g.get("command") else None
        step["environment_variables"] = {
            k: _item(v, values)["v"] for k, v in (g.get("environment_variables") or {}).items()
        }
        inputs = {}
        for name, spec in (g.get("inputs") or {}).items():
            kind = spec["kind"]
            if kind == "dataset":
                inputs[name] = _dataset_input(ws, name, _fill(spec["dataset"], values), spec["mode"])
            elif kind == "datapath":
                where = _fill(spec["datapath"], values)
                inputs[name] = {
                    "kind": "path",
                    "path": str(stores.resolve(ws, where["datastore"], where["path"] or None)),
                }
            else:
                inputs[name] = spec
        step["inputs"] = inputs
        if g.get("batch"):
            batch = {k: _fill(v, values) for k, v in g["batch"].items()}
            from_params = {
                k: v["param"] for k, v in g["batch"].items() if isinstance(v, dict) and "param" in v
            }
            step["batch"] = check_batch_values(step, batch, inputs, from_params)
        step["compute"] = _compute(ws, step) if g.get("compute") else None
        steps.append(step)
    return {
        "version": 1,
        "continue_on_step_failure": bool(
            graph.get("continue_on_step_failure")
            if continue_on_step_failure is None
            else continue_on_step_failure
        ),
        "regenerate_outputs": bool(regenerate_outputs),
        "parameters": {
            k: (v if not isinstance(v, dict) else v.get("name") or "dataset") for k, v in values.items()
        },
        "steps": steps,
    }
