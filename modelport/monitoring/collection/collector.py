"""v1's ``ModelDataCollector``: collect a scoring script's inputs and predictions.

``collect()`` costs a few microseconds on the request (the correlation values, a copy of the
value, an append to a bounded buffer); the CSV is written by the writer thread (writer.py).
"""

from __future__ import annotations

import copy
import datetime
import logging
import operator
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelport.monitoring.collection import config as _config
from modelport.monitoring.collection import layout, rows
from modelport.monitoring.collection.writer import Item, get_writer
from modelport.runtime.context import current_request_id

__all__ = ["ModelDataCollector"]

log = logging.getLogger("modelport.monitoring")

DESIGNATIONS = ("inputs", "predictions", "labels", "signals", "general")
BOUNDARY_DAY = 60 * 24
"""``$aml_dc_boundary``: minutes per file (v1's default: a day)."""


class Sink:
    """Where one collector's rows go: its resolved identity and file layout."""

    def __init__(
        self,
        root: Path,
        workspace: str,
        service: str,
        model: str,
        version: str,
        designation: str,
        file_name: str,
        feature_names: list[str] | None,
        extra_columns: tuple[str, ...],
    ) -> None:
        self.root = root
        self.workspace = workspace
        self.service = service
        self.model = model
        self.version = version
        self.designation = designation
        self.file_name = file_name
        self.feature_names = feature_names
        self.extra_columns = extra_columns
        self.warned_json = False
        self.correlated = False
        """Whether add_correlations() put the correlation columns at the end of the values."""
        self._paths: dict[datetime.date, Path] = {}

    def header(self, value: Any) -> list[str]:
        """The columns of a new file whose first value is ``value``."""
        names = rows.header_names(value, self.feature_names)
        corr = ModelDataCollector.CORRELATION_HEADERS
        if self.correlated and self.feature_names is None and names != ["data"] and len(names) > len(corr):
            names = names[: -len(corr)] + list(corr)
        return names + list(self.extra_columns)

    def path(self, day: datetime.date) -> Path:
        found = self._paths.get(day)
        if found is None:
            folder = layout.day_folder(
                self.root, self.workspace, self.service, self.model, self.version, self.designation, day
            )
            found = self._paths[day] = folder / self.file_name
        return found


class ModelDataCollector:
    """Collects a model's data (inputs, predictions, ...) from inside a scoring script (v1's
    ``azureml.monitoring.ModelDataCollector``).

    Each collector writes one designation of one model. Rows land in CSV files under the
    workspace's default datastore,
    ``modeldata/<subscription>/<resource group>/<workspace>/<service>/<model>/<version>/<designation>/
    <yyyy>/<mm>/<dd>/data.csv``; ``feature_names`` become the header (without them: a DataFrame's
    columns, else ``0``, ``1``, ...). Collection happens only in a service deployed (or updated)
    with ``collect_model_data=True``; elsewhere ``collect()`` does nothing and returns None, as in
    v1 (``AML_MODEL_DC_DEBUG=true`` prints the rows instead).

    ``workspace``, ``webservice_name`` and ``model_version`` are filled in by the service when
    left at 'default' (a 'default' version becomes the version of that model the service serves).

    Example::

        inputs_dc = ModelDataCollector("sklearn_mnist", designation="inputs",
                                       feature_names=[f"pixel{i}" for i in range(784)])
        correlations = inputs_dc.collect(data)          # data: a 2-D numpy array, a list, a DataFrame
        predictions_dc.collect(predictions_dc.add_correlations(result, correlations))
    """

    AML_DC_CORRELATION_HEADER = "$aml_dc_correlation_id"
    AML_DC_SCORING_TIMESTAMP_HEADER = "$aml_dc_scoring_timestamp"
    AML_DC_BOUNDARY_HEADER = "$aml_dc_boundary"
    AML_WORKSPACE_HEADER = "$aml_workspace"
    AML_SERVICE_NAME_HEADER = "$aml_service_name"
    AML_MODEL_NAME_HEADER = "$aml_model_name"
    AML_MODEL_VERSION_HEADER = "$aml_model_version"
    AML_REQUEST_ID_HEADER = "$aml_request_id"
    CORRELATION_HEADERS = (
        AML_DC_CORRELATION_HEADER,
        AML_DC_SCORING_TIMESTAMP_HEADER,
        AML_DC_BOUNDARY_HEADER,
        AML_WORKSPACE_HEADER,
        AML_SERVICE_NAME_HEADER,
        AML_MODEL_NAME_HEADER,
        AML_MODEL_VERSION_HEADER,
        AML_REQUEST_ID_HEADER,
    )
    """The correlation columns, in v1's order, after the features."""

    def __init__(
        self,
        model_name: str,
        designation: str = "default",
        feature_names: Sequence[str] | None = None,
        workspace: str = "default/default/default",
        webservice_name: str = "default",
        model_version: str | int = "default",
        collection_name: str = "default",
    ) -> None:
        self._feature_names = [str(n) for n in feature_names] if feature_names is not None else None
        self._correlation_headers: tuple[str, ...] = ()
        self._sink: Sink | None = None
        self._writer: Any = None
        self._debug = _config.debug_enabled()
        self.model_name = model_name
        self.workspace = str(workspace).lower()
        self.service_name = webservice_name
        self.model_version = str(model_version)
        if designation == "default":
            designation = "general"
        if designation not in DESIGNATIONS:
            # v1 printed this and collected nothing.
            print(
                "Incorrect designation value. Supported values: 'default', 'inputs', 'predictions', "
                "'labels', 'signals', 'general'"
            )
            self._designation = None
            return
        self._designation = designation
        if designation == "inputs":
            self._correlation_headers = self.CORRELATION_HEADERS
        settings = _config.current()
        if settings is None:
            if not self._debug:
                print(
                    "Data collection is not enabled: deploy the service with collect_model_data=True "
                    "(or service.update(collect_model_data=True)) to collect."
                )
            return
        if self.workspace == "default/default/default":
            self.workspace = settings.workspace.lower()
        if self.service_name == "default":
            self.service_name = settings.service
        if self.model_version == "default":
            self.model_version = settings.served_version(model_name) or "default"
        self._sink = Sink(
            settings.root,
            self.workspace,
            self.service_name,
            layout.check_part("model_name", model_name),
            layout.check_part("model_version", self.model_version),
            designation,
            layout.data_file_name(designation, collection_name),
            self._feature_names,
            self._correlation_headers if designation == "inputs" else (),
        )
        layout.workspace_parts(self.workspace)  # refuse a malformed one here, not on the writer
        layout.check_part("webservice_name", self.service_name)
        self._writer = get_writer(settings, _config.hooks())

    @property
    def enabled(self) -> bool:
        """Whether this collector writes (the service collects and the designation is valid)."""
        return self._sink is not None

    def collect(self, input_data: Any, user_correlation_id: str = "") -> dict[str, Any] | None:
        """Collect ``input_data`` (a list, a numpy array or a pandas DataFrame; anything else is
        kept as JSON). For the 'inputs' designation, returns the correlation values added to its
        rows (give them to :meth:`add_correlations` for the predictions); else None.

        Never raises for the data it is given and never waits for the disk: when the buffer is
        full the rows are dropped and counted (``modelport_collect_dropped_rows_total``)."""
        if self._designation is None or (self._sink is None and not self._debug):
            return None
        now = datetime.datetime.now(datetime.UTC)
        correlations = None
        if self._designation == "inputs":
            correlations = self._correlations(now, user_correlation_id)
        extra = _in_order(correlations) if correlations else ()
        if self._debug:
            self._print(input_data, extra)
        if self._sink is not None:
            value = _kept(input_data)
            item = Item(self._sink, now.date(), value, extra, rows.estimate_bytes(value))
            self._writer.put(item, self._designation, _row_count(value))
        return correlations

    def add_correlations(self, input_data: Any, correlations: dict[str, Any] | None) -> Any:
        """``input_data`` with the correlation values of ``collect()`` appended as columns (a list
        gets them at its end, a numpy array as 8 more columns, a DataFrame as 8 more columns), so
        predictions can be joined to their inputs later."""
        if correlations is None:
            return input_data
        if not self._correlation_headers:
            self._correlation_headers = self.CORRELATION_HEADERS
            if self._sink is not None:
                self._sink.correlated = True
                if self._feature_names is not None:
                    self._sink.feature_names = self._feature_names + list(self.CORRELATION_HEADERS)
        values = [correlations.get(h) for h in self.CORRELATION_HEADERS]
        if isinstance(input_data, list):
            return input_data + values
        if isinstance(input_data, np.ndarray):
            data = input_data.reshape(1, -1) if input_data.ndim == 1 else input_data
            out = np.empty((data.shape[0], data.shape[1] + len(values)), dtype=object)
            out[:, : data.shape[1]] = data
            out[:, data.shape[1] :] = values
            return out
        if type(input_data).__name__ == "DataFrame" and hasattr(input_data, "insert"):
            frame = input_data.copy(deep=False)
            for i, (header, value) in enumerate(zip(self.CORRELATION_HEADERS, values, strict=True)):
                frame.insert(len(input_data.columns) + i, header, value)
            return frame
        log.warning("add_correlations: %s cannot take columns; returned unchanged", type(input_data).__name__)
        return input_data

    # -- helpers --------------------------------------------------------------------------------------
    def _correlations(self, now: datetime.datetime, user_correlation_id: str) -> dict[str, Any]:
        generated = str(uuid.uuid4())
        return {
            self.AML_DC_SCORING_TIMESTAMP_HEADER: now.replace(tzinfo=None).isoformat(),
            self.AML_REQUEST_ID_HEADER: current_request_id(),
            self.AML_DC_CORRELATION_HEADER: f"{user_correlation_id}-{generated}"
            if user_correlation_id
            else generated,
            self.AML_DC_BOUNDARY_HEADER: BOUNDARY_DAY,
            self.AML_WORKSPACE_HEADER: self.workspace,
            self.AML_SERVICE_NAME_HEADER: self.service_name,
            self.AML_MODEL_NAME_HEADER: self.model_name,
            self.AML_MODEL_VERSION_HEADER: self.model_version,
        }

    def _print(self, value: Any, extra: tuple[Any, ...]) -> None:
        names = rows.header_names(value, self._feature_names)
        width = len(names)
        data, _n, _j = rows.encode(value, width, extra)
        header = rows.csv_line(names + list(self._correlation_headers if extra else ()))
        sys.stdout.write((header + data).decode())

    def __repr__(self) -> str:
        where = self._sink.path(datetime.date.today()).parent.parent.parent.parent if self._sink else "off"
        return (
            f"ModelDataCollector(model_name={self.model_name!r}, designation={self._designation!r}, {where})"
        )


_in_order = operator.itemgetter(*ModelDataCollector.CORRELATION_HEADERS)
"""The correlation values in the columns' order, as a tuple."""


def _kept(value: Any) -> Any:
    """What the buffer keeps of ``value``: a copy, so the script may change its data after
    ``collect()`` returns (numpy arrays and DataFrames are copied whole, lists one level deep)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return list(value)
    if hasattr(value, "copy") and type(value).__name__ == "DataFrame":
        return value.copy()
    if isinstance(value, dict):
        return copy.copy(value)
    return value


def _row_count(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.shape[0]) if value.ndim >= 2 else 1
    if type(value).__name__ == "DataFrame":
        return len(value)
    if isinstance(value, list) and value and isinstance(value[0], list | tuple):
        return len(value)
    return 1
