"""``Run`` (v1's ``azureml.core.run``): one run of an experiment, its metrics, files and state.

Runs live in the workspace's database; their files in its blob store. ``Run.get_context()`` in
a script submitted with ``Experiment.submit`` returns that run; anywhere else an offline run
that keeps what is logged in memory (as v1's ``_OfflineRun``).

Example (v1's cells with ``azureml`` renamed)::

    run = experiment.start_logging()
    run.log("alpha", 0.03)
    run.log_list("errors", [0.2, 0.1])
    run.upload_file(name="outputs/model.pkl", path_or_stream="model.pkl")
    run.complete()
    model = run.register_model(model_name="diabetes", model_path="outputs/model.pkl")
"""

from __future__ import annotations

import builtins
import io
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelport import jobs
from modelport.core._run_base import RunBase
from modelport.core._run_v1 import RunV1
from modelport.core.experiment import Experiment, open_run
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, NotFoundError, NotSupported, RunFailed
from modelport.registry import runs as registry
from modelport.workspace import Workspace as _StoreWorkspace

__all__ = ["Run"]

_SUPERVISED = ("script", "pipeline")
"""Run kinds whose supervising process this module checks (the batch runner checks its own)."""


def _metrics_view(metrics: builtins.list[registry.Metric]) -> dict[str, Any]:
    """v1's ``get_metrics()``: a scalar logged once is a value, more often a list; a list is a
    list; rows and tables are dicts of columns; an image is its file's name."""
    out: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for m in metrics:
        counts[m.name] = counts.get(m.name, 0) + 1
    for m in metrics:
        if m.kind == "scalar":
            if counts[m.name] == 1:
                out[m.name] = m.value
            else:
                out.setdefault(m.name, []).append(m.value)
        elif m.kind in ("row", "table"):
            table = out.setdefault(m.name, {})
            for col, value in m.value.items():
                table.setdefault(col, []).extend(value if m.kind == "table" else [value])
        elif m.kind == "list" and counts[m.name] > 1:
            out.setdefault(m.name, []).append(m.value)
        else:
            out[m.name] = m.value
    return out


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"a metric name must be a non-empty string, got {name!r}")
    return name


class Run(RunBase, RunV1, kinds=("",)):
    """A run of an experiment. ``Run(experiment, run_id)`` opens an existing one.

    Example::

        >>> run = Run(experiment, run_id)
        >>> run.get_metrics()
        {'alpha': 0.03, 'mse': [3424.3, 3300.1]}
        >>> run.get_file_names()
        ['azureml-logs/70_driver_log.txt', 'outputs/model.pkl']
    """

    def __init__(self, experiment: Any, run_id: str, outputs: str | None = None, **_v1: Any) -> None:
        if not isinstance(experiment, Experiment):
            raise InvalidInputError(f"experiment must be an Experiment, got {type(experiment).__name__}")
        self.experiment = experiment
        self._record = registry.get_run(experiment.workspace, run_id)
        if self._record.experiment != experiment.name:
            raise NotFoundError(f"run '{run_id}' is not a run of experiment '{experiment.name}'")
        self._outputs = outputs

    @staticmethod
    def get_context(allow_offline: bool = True, **_v1: Any) -> Run:
        """The run this script was submitted as; outside a submitted run, an offline run that
        keeps what is logged in memory (``allow_offline=False`` raises instead)."""
        ctx = jobs.context()
        if ctx is None:
            if not allow_offline:
                raise NotSupported(
                    "Run.get_context(allow_offline=False) outside a submitted run: submit the script "
                    "with Experiment(ws, name).submit(ScriptRunConfig(...)), or use start_logging()"
                )
            return _OfflineRun()
        if ctx.journal:  # on a Ray node that cannot see the workspace
            return _JournalRun(ctx.run_id, ctx.journal)
        ws = Workspace(ctx.workspace_name, ctx.workspace_path)
        record = registry.get_run(ws, ctx.run_id)
        return Run._wrap(Experiment(ws, record.experiment), record)

    @staticmethod
    def get(workspace: Any, run_id: str) -> Run:
        """The run ``run_id`` of any experiment of ``workspace`` (v1's ``Run.get``)."""
        return open_run(workspace, run_id)

    @staticmethod
    def get_submitted_run(**kwargs: Any) -> Run:
        """v1's old name of :meth:`get_context`."""
        return Run.get_context(**kwargs)

    @staticmethod
    def list(
        experiment: Any,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        status: str | None = None,
        **_v1: Any,
    ) -> Iterator[Run]:
        """The runs of ``experiment``, newest first (v1's ``Run.list``)."""
        return experiment.get_runs(type=type, tags=tags, properties=properties, status=status)

    # -- attributes ----------------------------------------------------------------------------
    @property
    def _ws(self) -> _StoreWorkspace:
        ws: _StoreWorkspace = self.experiment.workspace
        return ws

    def _experiment_of(self, record: registry.RunRecord) -> Experiment:
        """The experiment of a run related to this one (its own, most often)."""
        if record.experiment == self.experiment.name:
            return self.experiment
        return Experiment(self._ws, record.experiment)

    def _refresh(self) -> registry.RunRecord:
        self._record = registry.get_run(self._ws, self._record.id)
        rec = self._record
        if rec.status not in registry.FINAL and rec.kind in _SUPERVISED and not jobs.supervisor_alive(rec):
            # The supervisor died without recording an end (killed, machine restarted).
            self._record = registry.set_status(
                self._ws,
                rec.id,
                "Failed",
                "the run's supervising process ended without finishing the run (see "
                f"{jobs.run_dir(self._ws, rec.id) / jobs.SUPERVISOR_LOG})",
            )
        return self._record

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def number(self) -> int:
        return self._record.number

    @property
    def name(self) -> str:
        return self._record.display_name or self._record.id

    @property
    def display_name(self) -> str:
        return self.name

    @display_name.setter
    def display_name(self, value: str) -> None:
        registry.update_run(self._ws, self.id, display_name=str(value))
        self._refresh()

    @property
    def status(self) -> str:
        return self._refresh().status

    @property
    def type(self) -> str:
        return {"script": "azureml.scriptrun", "pipeline": "azureml.PipelineRun"}.get(
            self._record.kind, "experimentrun"
        )

    @property
    def parent(self) -> Run | None:
        """The run that started this one (a step's pipeline run), or None."""
        parent_id = self._record.parent_id
        if parent_id is None:
            return None
        record = registry.get_run(self._ws, parent_id)
        return Run._wrap(self._experiment_of(record), record)

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._refresh().tags)

    @property
    def properties(self) -> dict[str, str]:
        return dict(self._refresh().properties)

    @property
    def input_datasets(self) -> dict[str, Any]:
        """In a submitted script: each named dataset input (``ds.as_named_input(name)``) as the
        local folder holding its files (a dataset of one file: that file); a tabular dataset
        given as it is, as a ``TabularDataset``."""
        details = self._refresh().details
        found: dict[str, Any] = dict(details.get("inputDatasets", {}))
        refs = details.get("inputTabular") or {}
        if refs:
            from modelport.core.dataset import dataset_from_ref

            for name, ref in refs.items():
                found[name] = dataset_from_ref(self._ws, ref)
        return found

    def get_status(self) -> str:
        return self.status

    def get_tags(self) -> dict[str, str]:
        return self.tags

    def get_properties(self) -> dict[str, str]:
        return self.properties

    def get_details(self) -> dict[str, Any]:
        """v1's run details: id, target, status, times, properties, the script and its log."""
        rec = self._refresh()
        details = {
            "runId": rec.id,
            "target": rec.details.get("target", "local"),
            "status": rec.status,
            "startTimeUtc": rec.start_time,
            "endTimeUtc": rec.end_time,
            "properties": dict(rec.properties),
            "inputDatasets": rec.details.get("inputDatasets", {}),
            "outputDatasets": [],
            "runDefinition": {
                k: rec.details[k]
                for k in ("script", "arguments", "environment", "command")
                if k in rec.details
            },
            "logFiles": {jobs.LOG_NAME: str(jobs.log_file(self._ws, rec.id))}
            if rec.kind in _SUPERVISED
            else {},
        }
        if rec.error:
            details["error"] = {"error": {"message": rec.error}}
        return details

    def get_portal_url(self) -> str:
        return f"modelport run {self.id} (workspace {self._ws.path})"

    def tag(self, key: str, value: Any = None) -> None:
        registry.update_run(
            self._ws, self.id, tags=registry.check_str_dict({key: "" if value is None else value}, "tags")
        )

    def set_tags(self, tags: dict[str, Any]) -> None:
        registry.update_run(self._ws, self.id, tags=registry.check_str_dict(tags, "tags"))

    def remove_tags(self, tags: builtins.list[str]) -> None:
        for key in tags:
            registry.remove_tag(self._ws, self.id, key)

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Add properties; like a model's, they cannot be changed once set."""
        registry.update_run(self._ws, self.id, properties=registry.check_str_dict(properties, "properties"))

    # -- metrics -------------------------------------------------------------------------------
    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log a number or string; logging a name again makes the metric a list."""
        if not isinstance(value, int | float | str | bool) and value is not None:
            raise InvalidInputError(
                f"metric '{name}': log() takes a number or a string, got {type(value).__name__}; "
                "use log_list for lists"
            )
        registry.log_metric(self._ws, self.id, _check_name(name), "scalar", value, step)

    def log_list(self, name: str, value: builtins.list[Any], description: str = "") -> None:
        registry.log_metric(self._ws, self.id, _check_name(name), "list", _plain(list(value), name))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """One row of a table metric: ``run.log_row("Y over X", x=1, y=0.4)``."""
        if not kwargs:
            raise InvalidInputError(f"log_row('{name}'): give the row's columns as keyword arguments")
        registry.log_metric(self._ws, self.id, _check_name(name), "row", _plain(kwargs, name))

    def log_table(self, name: str, value: dict[str, builtins.list[Any]], description: str = "") -> None:
        """A table metric: a dict of equally long column lists."""
        if not isinstance(value, dict) or not all(isinstance(v, list | tuple) for v in value.values()):
            raise InvalidInputError(f"log_table('{name}'): value must be a dict of column lists")
        registry.log_metric(
            self._ws,
            self.id,
            _check_name(name),
            "table",
            _plain({k: list(v) for k, v in value.items()}, name),
        )

    def log_image(
        self, name: str, path: str | os.PathLike[str] | None = None, plot: Any = None, description: str = ""
    ) -> None:
        """An image metric from a file (``path``) or a matplotlib figure or pyplot (``plot``);
        the image is kept among the run's files."""
        if (path is None) == (plot is None):
            raise InvalidInputError(f"log_image('{name}'): give exactly one of path or plot")
        if path is not None:
            src = Path(path)
            if not src.is_file():
                raise NotFoundError(f"log_image('{name}'): no file at {path}")
            suffix = src.suffix or ".png"
            self._add_file(f"{name}_{int(time.time() * 1000)}{suffix}", src, as_image=name)
            return
        if not hasattr(plot, "savefig"):
            raise InvalidInputError(
                f"log_image('{name}'): plot must be a matplotlib figure or pyplot, got {type(plot).__name__}"
            )
        buffer = io.BytesIO()
        plot.savefig(buffer, format="png")
        self._add_stream(f"{name}_{int(time.time() * 1000)}.png", buffer.getvalue(), as_image=name)

    def get_metrics(
        self,
        name: str | None = None,
        recursive: bool = False,
        run_type: str | None = None,
        populate: bool = False,
    ) -> dict[str, Any]:
        """What was logged, by name (see :func:`_metrics_view` for the shapes)."""
        view = _metrics_view(registry.metrics(self._ws, self.id))
        if name is not None:
            return {name: view[name]} if name in view else {}
        return view

    # -- files ---------------------------------------------------------------------------------
    def _add_file(self, name: str, src: Path, as_image: str | None = None) -> None:
        f = registry.add_file(self._ws, self.id, name, src)
        if as_image is not None:
            registry.log_metric(
                self._ws,
                self.id,
                as_image,
                "image",
                f"aml://artifactId/ExperimentRun/dcid.{self.id}/{f.path}",
            )

    def _add_stream(self, name: str, data: bytes, as_image: str | None = None) -> None:
        with tempfile.TemporaryDirectory(prefix="modelport-upload-") as tmp:
            target = Path(tmp) / "upload"
            target.write_bytes(data)
            self._add_file(name, target, as_image)

    def upload_file(self, name: str, path_or_stream: Any, datastore_name: str | None = None) -> None:
        """Keep a file (a path or a binary stream) as the run's file ``name`` (e.g. ``outputs/model.pkl``)."""
        if hasattr(path_or_stream, "read"):
            data = path_or_stream.read()
            self._add_stream(name, data.encode() if isinstance(data, str) else data)
            return
        if not isinstance(path_or_stream, str | os.PathLike):
            raise InvalidInputError(
                f"upload_file('{name}'): path_or_stream must be a path or a binary stream, "
                f"got {type(path_or_stream).__name__}"
            )
        src = Path(path_or_stream)
        if not src.is_file():
            raise NotFoundError(f"upload_file('{name}'): no file at {path_or_stream}")
        self._add_file(name, src)

    def upload_files(self, names: builtins.list[str], paths: builtins.list[Any], **_v1: Any) -> None:
        if len(names) != len(paths):
            raise InvalidInputError("upload_files: names and paths must be lists of the same length")
        for name, path in zip(names, paths, strict=True):
            self.upload_file(name, path)

    def upload_folder(self, name: str, path: str | os.PathLike[str], **_v1: Any) -> None:
        """Keep every file under ``path`` as ``name/<its path>``."""
        folder = Path(path)
        if not folder.is_dir():
            raise NotFoundError(f"upload_folder('{name}'): {path} is not a folder")
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                self._add_file(f"{name.rstrip('/')}/{f.relative_to(folder).as_posix()}", f)

    def get_file_names(self) -> builtins.list[str]:
        return [f.path for f in registry.files(self._ws, self.id)]

    def download_file(
        self, name: str, output_file_path: str | os.PathLike[str] | None = None, **_v1: Any
    ) -> None:
        """Copy the run's file ``name`` to ``output_file_path`` (a file or a folder; default: here)."""
        found = {f.path: f for f in registry.files(self._ws, self.id)}
        if name not in found:
            raise NotFoundError(f"run '{self.id}' has no file '{name}'; it has: {', '.join(found) or 'none'}")
        target = Path(output_file_path) if output_file_path is not None else Path(Path(name).name)
        if target.is_dir():
            target = target / Path(name).name
        registry.download_file(self._ws, self.id, found[name], target)

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: str | os.PathLike[str] | None = None,
        output_paths: Any = None,
        batch_size: int = 100,
        append_prefix: bool = True,
        **_v1: Any,
    ) -> None:
        """Copy every file whose name starts with ``prefix`` under ``output_directory``."""
        base = Path(output_directory or ".")
        for f in registry.files(self._ws, self.id):
            if prefix and not f.path.startswith(prefix):
                continue
            rel = f.path if append_prefix or not prefix else f.path[len(prefix) :].lstrip("/")
            registry.download_file(self._ws, self.id, f, base / rel)

    # -- the end of a run ------------------------------------------------------------------------
    def _finish(self, status: str, error: str | None = None) -> None:
        if self._record.kind == "interactive" and self._outputs:
            outputs = Path(self._outputs)
            if outputs.is_dir():
                for f in sorted(outputs.rglob("*")):
                    if f.is_file():
                        registry.add_file(
                            self._ws, self.id, f"outputs/{f.relative_to(outputs).as_posix()}", f
                        )
        self._record = registry.set_status(self._ws, self.id, status, error)

    def complete(self, _set_status: bool = True) -> None:
        """Mark the run Completed (an interactive run also keeps its ``./outputs`` folder's files)."""
        self._finish("Completed")

    def fail(
        self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True
    ) -> None:
        self._finish("Failed", str(error_details) if error_details is not None else "failed by the user")

    def cancel(self) -> None:
        """Stop the run (a submitted script is stopped) and mark it Canceled."""
        jobs.cancel(self._ws, self._refresh())
        self._refresh()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is None:
            self.complete()
        else:
            self.fail(f"{exc_type.__name__}: {exc}")

    def wait_for_completion(
        self, show_output: bool = False, wait_post_processing: bool = False, raise_on_error: bool = True
    ) -> dict[str, Any]:
        """Wait until the run ends; ``show_output`` streams its log as it is written.

        Raises :class:`~modelport.errors.RunFailed` (v1's ``ActivityFailedException``) when the
        run failed and ``raise_on_error``. Returns ``get_details()``.
        """
        log = jobs.log_file(self._ws, self.id)
        offset = 0
        if show_output:
            print(f"RunId: {self.id}\n", flush=True)
        while True:
            rec = self._refresh()
            final = rec.status in registry.FINAL
            if show_output and log.is_file():
                with open(log, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                offset += len(chunk)
                if chunk:
                    sys.stdout.write(chunk.decode("utf-8", "replace"))
                    sys.stdout.flush()
            if final:
                break
            if rec.kind == "interactive":
                raise InvalidInputError(
                    f"run '{self.id}' was started with start_logging(): it ends when you call run.complete()"
                )
            time.sleep(0.2)
        if show_output:
            print(
                f"\nExecution Summary\n=================\nRunId: {self.id}\nStatus: {rec.status}\n",
                flush=True,
            )
        if rec.status == "Failed" and raise_on_error:
            raise RunFailed(rec.id, f"run '{rec.id}' failed: {rec.error}; its log: {log}")
        return self.get_details()

    # -- models ------------------------------------------------------------------------------------
    def register_model(
        self,
        model_name: str,
        model_path: str | None = None,
        tags: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        description: str | None = None,
        datasets: Any = None,
        sample_input_dataset: Any = None,
        sample_output_dataset: Any = None,
        resource_configuration: Any = None,
        **_v1: Any,
    ) -> Any:
        """Register the run's file or folder ``model_path`` (e.g. ``outputs/model.pkl``) as a model.

        The model version remembers the run (``model.run_id``; ``Model(ws, name, run_id=...)``).
        """
        from modelport.core.model import RUN_PROPERTY, Model

        if not model_path:
            raise InvalidInputError(
                "register_model: model_path names the run's file or folder, e.g. 'outputs/model.pkl'"
            )
        want = registry.check_file_name(model_path.rstrip("/"))
        files = registry.files(self._ws, self.id)
        exact = [f for f in files if f.path == want]
        under = [f for f in files if f.path.startswith(want + "/")]
        if not exact and not under:
            names = ", ".join(f.path for f in files) or "none"
            raise NotFoundError(
                f"run '{self.id}' has no file or folder '{model_path}' to register; its files: {names}"
            )
        with tempfile.TemporaryDirectory(prefix="modelport-run-model-") as tmp:
            if exact:
                local = Path(tmp) / Path(want).name
                registry.download_file(self._ws, self.id, exact[0], local)
            else:
                local = Path(tmp) / Path(want).name
                for f in under:
                    registry.download_file(self._ws, self.id, f, local / f.path[len(want) + 1 :])
            props = {**(properties or {}), RUN_PROPERTY: self.id}
            return Model.register(
                self.experiment.workspace,
                model_path=local,
                model_name=model_name,
                tags=tags,
                properties=props,
                description=description,
                model_framework=model_framework,
                model_framework_version=model_framework_version,
                datasets=datasets,
                sample_input_dataset=sample_input_dataset,
                sample_output_dataset=sample_output_dataset,
                resource_configuration=resource_configuration,
            )

    def get_children(
        self, recursive: bool = False, tags: Any = None, properties: Any = None, **_v1: Any
    ) -> Iterator[Run]:
        """The runs this run started (a pipeline run's step runs), in the order they started."""
        for record in registry.children(self._ws, self.id):
            child = Run._wrap(self._experiment_of(record), record)
            yield child
            if recursive:
                yield from child.get_children(recursive=True)

    def __repr__(self) -> str:
        return (
            f"Run(Experiment: {self.experiment.name}, Id: {self.id}, Type: {self.type}, "
            f"Status: {self.status})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and not isinstance(other, _OfflineRun) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


def _plain(value: Any, name: str) -> Any:
    """numpy scalars and arrays in a logged value become plain numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v, name) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, name) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


class _OfflineRun(Run):
    """What ``Run.get_context()`` returns outside a submitted run: metrics kept in memory, printed
    as v1 did ("Attempted to log scalar metric ..."); files are not kept."""

    def __init__(self) -> None:
        self._id = f"OfflineRun_{uuid.uuid4()}"
        self._metrics: builtins.list[registry.Metric] = []

    @property
    def id(self) -> str:
        return self._id

    @property
    def experiment(self) -> Any:
        raise NotSupported(
            "an offline run (Run.get_context() outside a submitted run) has no experiment: submit "
            "the script with Experiment(ws, name).submit(ScriptRunConfig(...)) or use start_logging()"
        )

    @property
    def status(self) -> str:
        return "Running"

    @property
    def name(self) -> str:
        return self._id

    @property
    def type(self) -> str:
        return "offline"

    def get_details(self) -> dict[str, Any]:
        return {"runId": self._id, "target": "local", "status": "Running"}

    @property
    def input_datasets(self) -> dict[str, Any]:
        return {}

    def get_file_names(self) -> builtins.list[str]:
        return []

    def get_children(
        self, recursive: bool = False, tags: Any = None, properties: Any = None, **_v1: Any
    ) -> Iterator[Run]:
        return iter(())

    @property
    def parent(self) -> Run | None:
        return None

    @property
    def number(self) -> int:
        return 0

    @property
    def tags(self) -> dict[str, str]:
        return {}

    @property
    def properties(self) -> dict[str, str]:
        return {}

    def _keep(self, name: str, kind: str, value: Any) -> None:
        print(f"Attempted to log {kind} metric {name}:\n{value}", flush=True)
        self._metrics.append(registry.Metric(_check_name(name), kind, _plain(value, name), None, ""))

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        self._keep(name, "scalar", value)

    def log_list(self, name: str, value: builtins.list[Any], description: str = "") -> None:
        self._keep(name, "list", list(value))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        self._keep(name, "row", kwargs)

    def log_table(self, name: str, value: dict[str, builtins.list[Any]], description: str = "") -> None:
        self._keep(name, "table", value)

    def log_image(self, name: str, path: Any = None, plot: Any = None, description: str = "") -> None:
        self._keep(name, "image", str(path) if path is not None else "<plot>")

    def get_metrics(
        self,
        name: str | None = None,
        recursive: bool = False,
        run_type: str | None = None,
        populate: bool = False,
    ) -> dict[str, Any]:
        view = _metrics_view(self._metrics)
        return ({name: view[name]} if name in view else {}) if name is not None else view

    def upload_file(self, name: str, path_or_stream: Any, datastore_name: str | None = None) -> None:
        print(f"Attempted to upload file {name} (offline run: not kept)", flush=True)

    def upload_folder(self, name: str, path: Any, **_v1: Any) -> None:
        print(f"Attempted to upload folder {name} (offline run: not kept)", flush=True)

    def tag(self, key: str, value: Any = None) -> None:
        pass

    def set_tags(self, tags: dict[str, Any]) -> None:
        pass

    def add_properties(self, properties: dict[str, Any]) -> None:
        pass

    def complete(self, _set_status: bool = True) -> None:
        pass

    def fail(
        self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True
    ) -> None:
        pass

    def register_model(
        self, model_name: str, model_path: str | None = None, *_args: Any, **_kwargs: Any
    ) -> Any:
        raise NotSupported(
            "register_model on an offline run: the run keeps no files. Register the file with "
            "Model.register(ws, model_path, model_name), or submit the script as a run"
        )

    def __repr__(self) -> str:
        return f"_OfflineRun(id={self.id!r})"


class _JournalRun(_OfflineRun):
    """``Run.get_context()`` in a script on a Ray node that cannot see the workspace: what it
    logs (metrics, tags, properties) goes to a journal file, one JSON line an entry, which
    ``modelport.jobs.ray.handback`` sends back with the run's ``outputs/``; the run's supervisor
    records it, in order, when the job ends. Reading the run back gives what this process logged."""

    def __init__(self, run_id: str, journal: str) -> None:
        super().__init__()
        self._id = run_id
        self._journal = Path(journal)

    def _write(self, entry: dict[str, Any]) -> None:
        with open(self._journal, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def _log_metric(self, name: str, kind: str, value: Any, step: int | None = None) -> None:
        name, value = _check_name(name), _plain(value, name)
        metric = registry.Metric(name, kind, value, step, "")
        self._write({"metric": name, "kind": kind, "value": value, "step": step})
        self._metrics.append(metric)

    def _keep(self, name: str, kind: str, value: Any) -> None:
        self._log_metric(name, kind, value)

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        self._log_metric(name, "scalar", value, step)

    def tag(self, key: str, value: Any = None) -> None:
        self.set_tags({key: "" if value is None else value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._write({"tags": registry.check_str_dict(tags, "tags")})

    def add_properties(self, properties: dict[str, Any]) -> None:
        self._write({"properties": registry.check_str_dict(properties, "properties")})

    @property
    def type(self) -> str:
        return "azureml.scriptrun"

    def get_details(self) -> dict[str, Any]:
        return {"runId": self._id, "target": "ray", "status": "Running"}

    def register_model(
        self, model_name: str, model_path: str | None = None, *_args: Any, **_kwargs: Any
    ) -> Any:
        raise NotSupported(
            "register_model inside a run on a Ray node that cannot see the workspace: the run's "
            "outputs/ reach the workspace when the script ends; register from the submitting code "
            "with run.wait_for_completion() and run.register_model(...)"
        )

    def get_file_names(self) -> builtins.list[str]:
        return []

    def __repr__(self) -> str:
        return f"_JournalRun(id={self.id!r})"
