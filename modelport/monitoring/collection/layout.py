"""Where collected rows land: v1's ``modeldata`` layout, under the workspace's default datastore.

::

    <datastore>/modeldata/<subscription>/<resource group>/<workspace>/<service>/<model>/<version>/
        <designation>/<yyyy>/<mm>/<dd>/data.csv

``inputs``, ``predictions`` and ``labels`` go to ``data.csv`` (v1's articles); ``signals`` and
``general`` to ``<collection_name>.csv``, as v1's reference says. Pure functions: the engine, the
server, drift and the studio all find the files here.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from modelport.errors import InvalidInputError

__all__ = [
    "DESIGNATIONS",
    "MODELDATA",
    "DataFile",
    "data_file_name",
    "day_folder",
    "files",
    "monitoring_folder",
    "service_folder",
    "workspace_identity",
    "workspace_parts",
]

MODELDATA = "modeldata"
"""The folder of the default datastore that collected data goes under (v1's blob container)."""
DESIGNATIONS = ("inputs", "predictions", "labels", "signals", "general")
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,254}$")
V1_IDENTITY_FILE = "azureml.json"
"""Where a workspace keeps v1's subscription and resource group (modelport.core.workspace)."""
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
LOCAL_RESOURCE_GROUP = "local"


def workspace_identity(workspace_folder: Path, name: str) -> str:
    """v1's ``{subscription_id}/{resource_group}/{workspace_name}`` of the workspace in
    ``workspace_folder``, lower-case, as ``Workspace.subscription_id`` and ``.resource_group``
    give them (a local workspace: a zero subscription and the resource group 'local')."""
    try:
        data = json.loads((workspace_folder / V1_IDENTITY_FILE).read_text())
    except (OSError, ValueError):
        data = {}
    data = data if isinstance(data, dict) else {}
    subscription = str(data.get("subscription_id") or LOCAL_SUBSCRIPTION)
    group = str(data.get("resource_group") or LOCAL_RESOURCE_GROUP)
    return f"{subscription}/{group}/{name}".lower()


def monitoring_folder(workspace_folder: Path, service: str) -> Path:
    """A service's folder of monitoring results in its workspace (drift detectors write there;
    the server shows them on /metrics)."""
    return workspace_folder / "monitoring" / "services" / service


def check_part(what: str, value: object) -> str:
    """``value`` as one path segment of the layout, refused if it could leave its folder."""
    text = str(value)
    if not _SAFE.match(text) or ".." in text:
        raise InvalidInputError(
            f"{what} {text!r} cannot name a folder of collected data: use letters, digits, ' ', '-', "
            "'.' and '_', starting with a letter or digit"
        )
    return text


def workspace_parts(workspace: str) -> tuple[str, str, str]:
    """v1's ``{subscription_id}/{resource_group}/{workspace_name}`` as three folder names."""
    parts = [p for p in str(workspace).lower().split("/") if p]
    if len(parts) != 3:
        raise InvalidInputError(
            f"workspace {workspace!r} must look like 'subscription_id/resource_group/workspace_name'"
        )
    return tuple(check_part("workspace", p) for p in parts)  # type: ignore[return-value]


def data_file_name(designation: str, collection_name: str = "default") -> str:
    """``data.csv`` for inputs, predictions and labels; ``<collection_name>.csv`` otherwise."""
    if designation in ("inputs", "predictions", "labels"):
        return "data.csv"
    return f"{check_part('collection_name', collection_name)}.csv"


def service_folder(root: Path, workspace: str, service: str) -> Path:
    """A service's folder of collected data under ``root`` (the datastore's ``modeldata``)."""
    return root.joinpath(*workspace_parts(workspace), check_part("service", service))


def day_folder(
    root: Path, workspace: str, service: str, model: str, version: str, designation: str, day: datetime.date
) -> Path:
    """The folder of one day's files of one model, version and designation."""
    return service_folder(root, workspace, service).joinpath(
        check_part("model name", model),
        check_part("model version", version),
        check_part("designation", designation),
        f"{day.year:04d}",
        f"{day.month:02d}",
        f"{day.day:02d}",
    )


@dataclass(frozen=True, slots=True)
class DataFile:
    """One collected file, as found on disk."""

    path: Path
    model: str
    version: str
    designation: str
    day: datetime.date

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


def files(service: Path, designation: str | None = None) -> Iterator[DataFile]:
    """The CSV files under a service's folder (``<model>/<version>/<designation>/yyyy/mm/dd/``),
    oldest day first; anything else in the tree is skipped."""
    found: list[DataFile] = []
    if not service.is_dir():
        return iter(())
    for path in service.glob("*/*/*/[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/*.csv"):
        rel = path.relative_to(service).parts
        model, version, kind, yyyy, mm, dd = rel[:6]
        if designation is not None and kind != designation:
            continue
        try:
            day = datetime.date(int(yyyy), int(mm), int(dd))
        except ValueError:
            continue
        found.append(DataFile(path, model, version, kind, day))
    found.sort(key=lambda f: (f.day, str(f.path)))
    return iter(found)
