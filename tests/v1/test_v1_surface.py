"""Every public name of the v1 SDK a deployment, data or pipeline user imports resolves under
``modelport`` (issue 22, part 2).

``v1_surface.json`` beside this file is the v1 surface as data (module -> public names -> each
class's public methods, properties and attributes), derived from v1's published packages by
``scripts/v1_surface.py`` (its ``source`` field says from which). For each entry, with ``azureml``
renamed to ``modelport``:

- the module imports and has the name;
- a name modelport implements has every listed member: on the class (a method, property or class
  attribute) or set on its instances (``self.x = ...`` in the class's code; the values of the
  documented ones are checked on real objects in ``test_v1_attribute_reads.py``);
- a name or member that cannot work locally is a refusal (``modelport._refused``): using it raises
  one ``NotSupported`` whose message says what to do here instead.

What does not resolve yet is listed in ``v1_surface_gaps.json`` (each entry's missing members): the
test fails on a gap not listed, and on a listed one that has closed, so the list only shrinks.
Names other branches implement (``PENDING``) may be either, and their members are not held to the
list until those branches land.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from modelport._refused import is_refused
from modelport.exceptions import NotSupported

SURFACE = json.loads((Path(__file__).with_name("v1_surface.json")).read_text())["modules"]

# The names whose implementation lands from another branch: held to "resolves" only.
PENDING = {
    "azureml.monitoring": "ModelDataCollector lands with branch h/monitor",
    "azureml.core.compute.AmlCompute": "AmlCompute on a Ray cluster lands with branch h/compute",
}

# What does not resolve yet, by entry: the test fails on anything new and on a gap that closed.
GAPS_FILE = Path(__file__).with_name("v1_surface_gaps.json")
GAPS: dict[str, list[str]] = json.loads(GAPS_FILE.read_text())["gaps"]

ENTRIES = [(module, name) for module, names in SURFACE.items() for name in names]


def _local(module: str) -> str:
    return "modelport" + module[len("azureml") :]


def _pending(module: str, name: str) -> str | None:
    return PENDING.get(module) or PENDING.get(f"{module}.{name}")


@cache
def _instance_attributes(cls: type) -> frozenset[str]:
    """The attributes a class's own code sets on its instances (``self.x = ...``) or annotates."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("modelport"):
            continue
        names.update(getattr(klass, "__annotations__", {}))
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        for node in ast.walk(ast.parse(source)):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                targets = [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    names.add(target.attr)
    return frozenset(names)


def _assert_refuses(obj: Any, what: str) -> None:
    with pytest.raises(NotSupported) as info:
        obj()
    message = str(info.value)
    # "<what>: <why>; <what to do here instead>", on one line
    head, _, rest = message.partition(": ")
    assert "\n" not in message and head and len(rest) > 20, (
        f"{what}: the refusal says no alternative: {message}"
    )


def _unresolved(module: str, name: str) -> list[str]:
    """What of a v1 entry does not resolve: ``["(name)"]`` for a missing name, else its missing
    members. A refusal that does not refuse as it should fails here and then."""
    mod = importlib.import_module(_local(module))
    if not hasattr(mod, name):
        return ["(name)"]
    obj = getattr(mod, name)
    info = SURFACE[module][name]
    if is_refused(obj):
        _assert_refuses(obj, f"{_local(module)}.{name}")
        for member in list(info.get("members", {}))[:3]:
            _assert_refuses(getattr(obj, member), f"{name}.{member}")
        return []
    if info["kind"] == "function":
        assert callable(obj), f"{name} is not callable"
    if info["kind"] != "class" or _pending(module, name):
        return []
    if not info["members"] and callable(obj):
        return []  # a v1 class used only by calling it (``with diagnostic_log(path):``)
    assert isinstance(obj, type), f"{_local(module)}.{name} is a {type(obj).__name__}, not a class"
    missing = []
    for member in info["members"]:
        if hasattr(obj, member):
            attr = inspect.getattr_static(obj, member)
            if is_refused(getattr(attr, "__func__", attr)):
                _assert_refuses(getattr(obj, member), f"{name}.{member}")
        elif member not in _instance_attributes(obj):
            missing.append(member)
    return missing


@pytest.mark.parametrize(("module", "name"), ENTRIES, ids=[f"{m}.{n}" for m, n in ENTRIES])
def test_v1_name_resolves(module: str, name: str) -> None:
    pending = _pending(module, name)
    try:
        importlib.import_module(_local(module))
    except ModuleNotFoundError:
        if pending:
            pytest.skip(pending)
        raise
    key = f"{module}.{name}"
    unresolved = _unresolved(module, name)
    known = GAPS.get(key, [])
    fixed = sorted(set(known) - set(unresolved))
    assert not fixed, f"{key}: {', '.join(fixed)} now resolve; take them out of {GAPS_FILE.name}"
    new = [m for m in unresolved if m not in known]
    assert not new, f"{_local(module)}.{name} lacks v1's {', '.join(new)}"


def test_the_surface_data_is_v1s() -> None:
    """The data holds the modules the issue names, and the names v1's notebooks import."""
    assert {"azureml.core", "azureml.core.webservice", "azureml.data", "azureml.pipeline.steps"} <= set(
        SURFACE
    )
    model = SURFACE["azureml.core.model"]["Model"]["members"]
    assert {"register", "deploy", "download", "get_model_path"} <= set(model)
    blob = SURFACE["azureml.data.azure_storage_datastore"]["AzureBlobDatastore"]["members"]
    assert {"protocol", "account_name", "container_name", "endpoint", "datastore_type"} <= set(blob)
    total = sum(
        len(names) + sum(len(n.get("members", {})) for n in names.values()) for names in SURFACE.values()
    )
    assert total > 2000


def test_the_gaps_are_v1_entries() -> None:
    """Every known gap names a v1 entry of the data (a stale key would hide nothing, and say so)."""
    for key in GAPS:
        module, _, name = key.rpartition(".")
        assert name in SURFACE.get(module, {}), f"{GAPS_FILE.name}: {key} is not in the v1 surface"
