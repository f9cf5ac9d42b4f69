"""What the scoring server imports is what an environment and an export install.

Issue 19: ``/swagger`` was blank for every service deployed with an Environment, because the
server imports ``swagger_ui_bundle`` and neither the environment builder's server requirements
nor the export's lock had it. Here what the server needs is *derived* from the code, never
listed by hand: the import closure of the modules that run inside a service (``modelport.server``,
``modelport.protocols``, ``modelport.runtime``, every import in them, lazy ones included, and the
modelport modules they reach) plus what ``modelport.core.model`` imports when a scoring script
imports it (``Model.get_model_path``); each third-party module is mapped to its distribution with
``importlib.metadata.packages_distributions()``. A requirement dropped from either list fails here
(``tests/export`` also checks a real environment and a real exported lock against the same set).
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import pkgutil
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import modelport
from modelport.environments import builder

PACKAGE = Path(modelport.__file__).resolve().parent
REPO = PACKAGE.parent

#: The packages whose every module runs inside a service.
IN_SERVICE = ("modelport.server", "modelport.protocols", "modelport.runtime")
#: What scoring scripts import from the v1 facade (``Model.get_model_path``): what importing it runs.
SCRIPT_FACING = ("modelport.core.model",)
#: Runs only in a Ray Serve replica, whose interpreter also gets the cluster's ``ray[serve]``.
RAY_ONLY = "modelport.server.ray_replica"

#: Needed though no ``import`` statement of modelport names them; each reason is checked below.
CHOSEN_BY_NAME = {
    "httptools": "server/protocol.py subclasses uvicorn's httptools_impl protocol, which imports it",
    "uvloop": "the workers run uvicorn with loop='auto', which picks uvloop when it is installed",
}
#: Imported by modelport directly, but a requirement of a listed distribution (checked below).
INSTALLED_WITH = {"urllib3": "requests"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: Iterable[str]) -> set[str]:
    return {canonical(Requirement(r).name) for r in requirements}


# -- the import closure ----------------------------------------------------------------------------
def _module_file(name: str) -> Path | None:
    path = PACKAGE.joinpath(*name.split(".")[1:])
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _module_level(tree: ast.Module) -> Iterator[ast.AST]:
    """The nodes that run when the module is imported (not inside a function)."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imported_names(name: str, path: Path, lazy: bool) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree) if lazy else _module_level(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_closure(roots: Iterable[str], *, lazy: bool) -> dict[str, set[str]]:
    """Third-party top-level modules the ``roots`` reach (each with the modelport modules importing
    it), following modelport's own imports; ``lazy``: imports inside functions count too. A
    package root brings all its modules."""
    todo: list[str] = []
    for root in roots:
        todo.append(root)
        path = _module_file(root)
        if lazy and path is not None and path.name == "__init__.py":
            todo += [m.name for m in pkgutil.walk_packages([str(path.parent)], prefix=f"{root}.")]
    seen: set[str] = set()
    found: dict[str, set[str]] = {}
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # importing runs the parents
        for imported in _imported_names(name, path, lazy):
            top = imported.split(".")[0]
            if top == "modelport":
                todo.append(imported)
            elif top and top != "__future__" and top not in sys.stdlib_module_names:
                found.setdefault(top, set()).add(name)
    return found


def distributions(modules: Iterable[str]) -> set[str]:
    """The distributions providing ``modules`` (installed in this interpreter: the dev install)."""
    providers = importlib.metadata.packages_distributions()
    out = set()
    for module in modules:
        assert module in providers, f"no installed distribution provides '{module}'"
        out.update(canonical(d) for d in providers[module])
    return out


@cache
def server_needs() -> frozenset[str]:
    """The distributions a service's interpreter must hold for modelport's server to run."""
    in_service = {
        module: importers - {RAY_ONLY}
        for module, importers in import_closure(IN_SERVICE, lazy=True).items()
        if importers - {RAY_ONLY}
    }
    script_facing = import_closure(SCRIPT_FACING, lazy=False)
    return frozenset(distributions({*in_service, *script_facing}) | set(CHOSEN_BY_NAME))


def requires(dist: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """The distributions ``dist`` (with ``extras``) depends on, at any depth, on this platform."""
    out: set[str] = set()
    todo = [(canonical(dist), extras)]
    while todo:
        name, wanted = todo.pop()
        for text in importlib.metadata.requires(name) or []:
            req = Requirement(text)
            env_ok = req.marker is None or any(
                req.marker.evaluate({"extra": extra}) for extra in (wanted or {""})
            )
            dep = canonical(req.name)
            if env_ok and dep not in out:
                out.add(dep)
                todo.append((dep, frozenset(req.extras)))
    return out


# -- the checks ------------------------------------------------------------------------------------
def test_the_closure_finds_what_the_server_imports() -> None:
    """The derivation itself can see a lazy import: the one that was missing is found, by the
    module that imports it inside a function."""
    closure = import_closure(IN_SERVICE, lazy=True)
    assert closure["swagger_ui_bundle"] == {"modelport.protocols.apipage"}
    assert {"gunicorn", "uvicorn", "orjson", "numpy", "inference_schema"} <= set(closure)
    assert "swagger-ui-bundle" in server_needs()
    assert "uv" not in server_needs()  # the SDK's build tool stays out of services


def test_an_environment_installs_what_the_server_imports() -> None:
    listed = requirement_names(builder._runtime_requirements())
    missing = server_needs() - listed - set(INSTALLED_WITH)
    assert not missing, f"SERVER_REQUIREMENTS lacks what the server imports: {sorted(missing)}"
    unused = listed - server_needs()
    assert not unused, f"SERVER_REQUIREMENTS lists what the server never imports: {sorted(unused)}"


def test_dropping_any_server_requirement_fails_the_check() -> None:
    """Every entry is needed on its own: without it the check above would fail."""
    listed = list(builder._runtime_requirements())
    for entry in listed:
        rest = requirement_names(r for r in listed if r != entry)
        assert server_needs() - rest - set(INSTALLED_WITH), f"dropping {entry} would go unnoticed"


def test_the_module_check_of_user_managed_interpreters_covers_every_requirement() -> None:
    assert set(builder._SERVER_MODULES) == requirement_names(builder.SERVER_REQUIREMENTS)
    for module in builder._SERVER_MODULES.values():
        assert importlib.util.find_spec(module) is not None, module


def test_an_export_of_a_service_without_environment_locks_what_the_server_imports(tmp_path: Path) -> None:
    """The export's lock for a service on the running interpreter starts from this list."""
    from modelport.deploy.export.lock import _this_interpreter_needs

    (tmp_path / "score.py").write_text("def init():\n    pass\n\ndef run(data):\n    return data\n")
    wanted = requirement_names(_this_interpreter_needs(tmp_path, []))
    missing = server_needs() - wanted - set(INSTALLED_WITH)
    assert not missing, f"the export's lock would lack: {sorted(missing)}"


def test_the_core_install_has_what_the_server_imports() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    declared = set()
    for text in pyproject["project"]["dependencies"]:
        req = Requirement(text)
        declared |= {canonical(req.name), *requires(req.name, frozenset(req.extras))}
    assert not server_needs() - declared, sorted(server_needs() - declared)


def test_the_reasons_for_modules_no_import_names_still_hold() -> None:
    from modelport.server.supervisor import ModelportWorker

    assert "uvicorn.protocols.http.httptools_impl" in (PACKAGE / "server" / "protocol.py").read_text()
    spec = importlib.util.find_spec("uvicorn.protocols.http.httptools_impl")
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    assert any(
        isinstance(node, ast.Import) and any(a.name == "httptools" for a in node.names) for node in tree.body
    )
    assert ModelportWorker.CONFIG_KWARGS["loop"] == "auto"
    for module, dist in INSTALLED_WITH.items():
        assert module in requires(dist), f"{module} is no longer installed with {dist}"
        assert canonical(dist) in requirement_names(builder.SERVER_REQUIREMENTS)


@pytest.mark.parametrize("module", sorted(import_closure([RAY_ONLY], lazy=True)))
def test_a_ray_replica_has_what_it_imports(module: str) -> None:
    """The Ray replica's own imports come with the cluster's ``ray[serve]`` (the Ray target adds
    it to the environment) or the server's requirements."""
    available = {"ray", *requires("ray", frozenset({"serve"}))}
    available |= requirement_names(builder.SERVER_REQUIREMENTS)
    dists = distributions([module])
    assert dists <= available, f"{module} ({dists}) is neither in ray[serve] nor a server requirement"
