"""Derive the v1 SDK's public surface from its published wheels, as data (tests/v1/v1_surface.json).

The data lists, for each v1 module a deployment, data or pipeline user imports, its public names and,
for each class, its public methods, properties and class attributes (its azureml base classes
included). It is read from the wheels' source with ``ast``: nothing of them is imported or copied.

Usage (the wheels are PyPI's, unpacked into one folder; nothing of them is committed)::

    pip download --no-deps -d wheels azureml-core azureml-pipeline-core azureml-pipeline-steps \
        azureml-widgets azureml-contrib-services
    pip download --no-deps --pre -d wheels azureml-monitoring      # an sdist: untar it
    for w in wheels/*.whl; do unzip -q -o "$w" -d wheels/x; done
    python scripts/v1_surface.py wheels/x > tests/v1/v1_surface.json

A module with ``__all__`` exports those names (less private ones); one without exports the public
classes and functions it defines (what the v1 reference documents for it, not its module constants).
A class's members are its public methods, properties, class attributes and the public attributes its
``__init__`` sets, and those of its azureml
base classes, less UPPER_CASE constants a private base class (``_RunBase``) carries and the REST
URL templates of v1's client (``REST_TEMPLATES``).
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

MODULES = [
    "azureml.core",
    "azureml.core.authentication",
    "azureml.core.compute",
    "azureml.core.conda_dependencies",
    "azureml.core.dataset",
    "azureml.core.datastore",
    "azureml.core.image",
    "azureml.core.model",
    "azureml.core.runconfig",
    "azureml.core.webservice",
    "azureml.core.workspace",
    "azureml.data",
    "azureml.data.azure_storage_datastore",
    "azureml.data.datapath",
    "azureml.data.dataset_consumption_config",
    "azureml.data.dataset_type_definitions",
    "azureml.data.output_dataset_config",
    "azureml.exceptions",
    "azureml.monitoring",
    "azureml.widgets",
    "azureml.contrib.services",
    "azureml.contrib.services.aml_request",
    "azureml.contrib.services.aml_response",
    "azureml.pipeline.core",
    "azureml.pipeline.steps",
]


# Class constants of v1's REST client, not API: the URL templates its run and pipeline classes
# format service paths with (``Run.RUN_PATH``, ``Experiment.WORKSPACE_FMT``, ...).
REST_TEMPLATES = {
    "DELIM",
    "EXPERIMENT_ID_PATH",
    "EXPERIMENT_NAME_PATH",
    "PIPELINE_PATH",
    "RUN_PATH",
    "TID_FMT",
    "WORKSPACE_FMT",
}


# Public by Python's rules but not API: v1's collector module exports its C time struct through
# ``import *`` (the v1 reference lists ModelDataCollector alone for azureml.monitoring).
NOT_API = {"azureml.monitoring": {"std_tm"}}


class Tree:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, ast.Module | None] = {}

    def path(self, module: str) -> Path | None:
        base = self.root.joinpath(*module.split("."))
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None

    def is_package(self, module: str) -> bool:
        p = self.path(module)
        return p is not None and p.name == "__init__.py"

    def parse(self, module: str) -> ast.Module | None:
        if module not in self._cache:
            p = self.path(module)
            self._cache[module] = ast.parse(p.read_text(encoding="utf-8")) if p else None
        return self._cache[module]

    def absolute(self, module: str, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = module.split(".")
        if not self.is_package(module):
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join(parts + ([node.module] if node.module else []))

    def resolve(self, module: str, name: str, depth: int = 0) -> tuple[str, ast.AST] | None:
        """Where ``name`` seen from ``module`` is defined: (module, its ClassDef/FunctionDef/Assign)."""
        tree = self.parse(module)
        if tree is None or depth > 20:
            return None
        found: tuple[str, ast.AST] | None = None
        for node in tree.body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name == name:
                found = (module, node)
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets
            ):
                if isinstance(node.value, ast.Name) and node.value.id != name:
                    hit = self.resolve(module, node.value.id, depth + 1)
                    found = hit or (module, node)
                else:
                    found = (module, node)
            elif isinstance(node, ast.ImportFrom):
                source = self.absolute(module, node)
                for alias in node.names:
                    if (alias.asname or alias.name) == name and alias.name != "*":
                        if (
                            self.parse(f"{source}.{alias.name}") is not None
                            and self.resolve(source, alias.name, depth + 1) is None
                        ):
                            found = (f"{source}.{alias.name}", ast.Module(body=[], type_ignores=[]))
                        else:
                            found = self.resolve(source, alias.name, depth + 1) or found
                    elif alias.name == "*":
                        hit = self.resolve(source, name, depth + 1)
                        if hit is not None:
                            found = hit
        return found

    def exports(self, module: str) -> list[str]:
        tree = self.parse(module)
        assert tree is not None, module
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                return sorted(n for n in ast.literal_eval(node.value) if not n.startswith("_"))
        names: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef) and not node.name.startswith("_"):
                names.append(node.name)
            elif isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                names.extend(self.exports(self.absolute(module, node)))
            elif isinstance(node, ast.ImportFrom):
                # a package re-exporting a name from its own modules (azureml.contrib.services)
                for alias in node.names:
                    if alias.asname and alias.asname == alias.name and not alias.name.startswith("_"):
                        names.append(alias.name)
        return sorted(set(names))

    def members(self, module: str, cls: ast.ClassDef, seen: set[str] | None = None) -> dict[str, str]:
        seen = seen or set()
        out: dict[str, str] = {}
        for base in cls.bases:
            base_name = base.id if isinstance(base, ast.Name) else None
            if base_name is None and isinstance(base, ast.Attribute):
                base_name = base.attr
            if base_name is None or base_name in seen:
                continue
            hit = self.resolve(module, base_name)
            if hit is not None and isinstance(hit[1], ast.ClassDef):
                inherited = self.members(hit[0], hit[1], seen | {base_name})
                if base_name.startswith("_"):
                    inherited = {k: v for k, v in inherited.items() if not (v == "attribute" and k.isupper())}
                out.update(inherited)
        for node in cls.body:
            if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                # public instance attributes (a datastore's account_name, container_name, protocol)
                for sub in ast.walk(node):
                    targets = sub.targets if isinstance(sub, ast.Assign) else []
                    for t in targets:
                        if (
                            isinstance(t, ast.Attribute)
                            and isinstance(t.value, ast.Name)
                            and t.value.id == "self"
                            and not t.attr.startswith("_")
                        ):
                            out.setdefault(t.attr, "attribute")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
                decorators = {
                    d.id if isinstance(d, ast.Name) else d.attr if isinstance(d, ast.Attribute) else ""
                    for d in node.decorator_list
                }
                if "setter" in decorators or "deleter" in decorators:
                    continue
                if "property" in decorators:
                    out[node.name] = "property"
                elif "staticmethod" in decorators or "classmethod" in decorators:
                    out[node.name] = "classmethod"
                else:
                    out[node.name] = "method"
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name) and not t.id.startswith("_") and t.id not in REST_TEMPLATES:
                        out[t.id] = "attribute"
        return out


def describe(tree: Tree, module: str, name: str) -> dict[str, Any]:
    hit = tree.resolve(module, name)
    if hit is None:
        return {"kind": "name"}
    where, node = hit
    if isinstance(node, ast.ClassDef):
        members = tree.members(where, node)
        return {"kind": "class", "defined_in": where, "members": dict(sorted(members.items()))}
    if isinstance(node, ast.FunctionDef):
        return {"kind": "function", "defined_in": where}
    if isinstance(node, ast.Module):
        return {"kind": "module", "defined_in": where}
    return {"kind": "constant", "defined_in": where}


def main(root: str) -> None:
    tree = Tree(Path(root))
    modules = {}
    for module in MODULES:
        names = [n for n in tree.exports(module) if n not in NOT_API.get(module, set())]
        modules[module] = {name: describe(tree, module, name) for name in names}
    versions = sorted(p.name.removesuffix(".dist-info") for p in Path(root).glob("*.dist-info"))
    data = {
        "source": (
            "The public API of the Azure ML SDK v1, read with scripts/v1_surface.py from PyPI's "
            "packages: " + ", ".join(versions) + " and azureml-monitoring 0.1.0a21 (names, not code). "
            "Checked against the v1 reference at learn.microsoft.com/python/api/azureml-core/ "
            "(module pages list the same classes; class pages the same methods and properties)."
        ),
        "regenerate": "python scripts/v1_surface.py UNPACKED_WHEELS > tests/v1/v1_surface.json",
        "modules": modules,
    }
    json.dump(data, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
