"""The layers of docs/architecture.md hold: import contracts (import-linter), no import cycles, and
no dependency bound at run time behind the imports' back (a module setting another's names)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=package_parent,
    )


def test_the_contracts_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_wrong_way_import_fails_the_check(tmp_path: Path) -> None:
    """The check can fail: the server importing the engine (an arrow against the flow) breaks it."""
    copy = tmp_path / "modelport"
    shutil.copytree(ROOT / "modelport", copy, ignore=shutil.ignore_patterns("__pycache__", "*.gz"))
    app = copy / "server" / "app.py"
    app.write_text(app.read_text() + "\nfrom modelport.deploy import engine  # noqa: E402\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "modelport.server.app -> modelport.deploy.engine" in result.stdout


PROTOCOLS_MAY_USE = {
    "modelport.runtime.script",
    "modelport.runtime.schema",
    "modelport.runtime.request",
    "modelport.runtime.response",
    "modelport.runtime.rawhttp",
    "modelport.runtime.bodies",
    "modelport.runtime.encode",
    "modelport.runtime.fastjson",
    "modelport.runtime.json_arrays",
    "modelport.runtime.npy_arrays",
}
"""What pyproject.toml's protocols contract says in words: the runtime's script interface and its
body codecs. The contract forbids every other runtime module."""


def _contract(starts: str) -> dict[str, object]:
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["name"].startswith(starts)]
    return contract  # type: ignore[no-any-return]


def test_the_protocols_contract_names_every_runtime_module() -> None:
    """A runtime module is either one a protocol may use or one the contract forbids: a new one
    must be put on one side (in this file and in pyproject.toml)."""
    runtime = {
        f"modelport.runtime.{p.stem}"
        for p in (ROOT / "modelport" / "runtime").glob("*.py")
        if p.stem != "__init__"
    }
    forbidden = set(_contract("protocols use only the runtime")["forbidden_modules"])  # type: ignore[arg-type]
    assert forbidden.isdisjoint(PROTOCOLS_MAY_USE)
    assert forbidden | PROTOCOLS_MAY_USE == runtime


def test_a_target_importing_another_fails_the_check(tmp_path: Path) -> None:
    """Targets are apart: the Ray target reaching into the local one breaks the contract."""
    copy = tmp_path / "modelport"
    shutil.copytree(ROOT / "modelport", copy, ignore=shutil.ignore_patterns("__pycache__", "*.gz"))
    ray = copy / "deploy" / "targets" / "ray.py"
    ray.write_text(ray.read_text() + "\nfrom modelport.deploy.targets.local import tail  # noqa: E402\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "modelport.deploy.targets.ray -> modelport.deploy.targets.local" in result.stdout


def test_no_import_cycles() -> None:
    """No module reaches itself through the modules it imports (at any depth, lazy imports
    included). An import made only for type annotations (under ``TYPE_CHECKING``) is no
    dependency: it runs never, so it may point back (``Experiment.submit`` is annotated ``-> Run``)."""
    graph = grimp.build_graph("modelport", exclude_type_checking_imports=True)
    modules = sorted(graph.modules)
    index = {m: i for i, m in enumerate(modules)}
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    # Tarjan's strongly connected components: a component of more than one module is a cycle.
    counter, stack, on_stack, low, number = [0], [], set(), {}, {}
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        number[m] = low[m] = counter[0]
        counter[0] += 1
        stack.append(m)
        on_stack.add(m)
        for n in edges[m]:
            if n not in index:
                continue
            if n not in number:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in on_stack:
                low[m] = min(low[m], number[n])
        if low[m] == number[m]:
            component = []
            while True:
                n = stack.pop()
                on_stack.discard(n)
                component.append(n)
                if n == m:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for m in modules:
        if m not in number:
            visit(m)
    assert cycles == []


def late_bindings(package: Path) -> list[str]:
    """Where a module of ``package`` sets (or deletes) a name in something it imported from the
    package (``other_module.name = value``, ``setattr(other_module, ...)``, ``SomeClass.name =
    value``): a dependency bound at run time that the import graph does not show, the way the
    facade's cycles once went underground (``_model._service_of = ...``)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {
                    a.asname or a.name.split(".")[0]
                    for a in node.names
                    if a.name.split(".")[0] == package.name
                }
            elif isinstance(node, ast.ImportFrom) and (
                node.level > 0 or (node.module or "").split(".")[0] == package.name
            ):
                imported |= {a.asname or a.name for a in node.names}
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign | ast.Delete):
                targets = list(node.targets)
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("setattr", "delattr")
                and node.args
            ):
                targets = [ast.Attribute(value=node.args[0], attr="?")]
            for target in targets:
                root = target
                while isinstance(root, ast.Attribute):
                    root = root.value
                if target is not root and isinstance(root, ast.Name) and root.id in imported:
                    line = getattr(node, "lineno", 0)
                    found.append(f"{path.relative_to(package.parent)}:{line}: {ast.unparse(target)}")
    return found


def test_no_module_sets_names_in_another() -> None:
    assert late_bindings(ROOT / "modelport") == []


def test_an_injected_late_binding_fails_the_check(tmp_path: Path) -> None:
    """The check can fail: the old facade's back-edge (run.py's Experiment class set by
    experiment.py) is found where it is written."""
    copy = tmp_path / "modelport"
    shutil.copytree(ROOT / "modelport", copy, ignore=shutil.ignore_patterns("__pycache__", "*.gz"))
    experiment = copy / "core" / "experiment.py"
    experiment.write_text(
        experiment.read_text()
        + "\nfrom modelport.core import run as _run  # noqa: E402\n_run._experiment_class = Experiment\n"
    )
    (found,) = late_bindings(copy)
    assert found.startswith("modelport/core/experiment.py:") and found.endswith("_run._experiment_class")


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return [ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def test_no_file_points_at_a_page_users_do_not_have() -> None:
    """Issue 19: three files pointed at the steering repository's design page, which a user of
    this repository does not have (docs/architecture.md is the map here)."""
    pointing = []
    for path in _tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if "shared/" + "DESIGN.md" in text:
            pointing.append(str(path.relative_to(ROOT)))
    assert pointing == []


def test_the_layers_page_lists_the_contracts_layers() -> None:
    """docs/architecture.md, where the code's comments send a reader, names every layer of the
    import contracts, in order."""
    import re
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    page = (ROOT / "docs" / "architecture.md").read_text()
    section = page.split("## The layers", 1)[1].split("\n## ", 1)[0]
    listed = [m.group(1) for m in re.finditer(r"^\d+\. `(modelport[^`]*)`", section, re.MULTILINE)]
    assert listed == layers


def sideways_fixture_imports(tests: Path) -> list[str]:
    """Imports of a conftest from another folder than the importer's: fixtures more than one
    folder uses live in tests/fixtures.py, which conftests and tests import upward."""
    found = []
    for path in sorted(tests.rglob("*.py")):
        folder = path.parent.relative_to(tests.parent).as_posix().replace("/", ".")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.endswith(".conftest") and name.rpartition(".")[0] != folder:
                    found.append(f"{path.relative_to(tests.parent)}: imports {name}")
    return found


def test_fixtures_are_imported_upward_only() -> None:
    assert sideways_fixture_imports(ROOT / "tests") == []


def test_a_sideways_fixture_import_fails_the_check(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "tests", tmp_path / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    cli = tmp_path / "tests" / "cli" / "test_cli_service.py"
    cli.write_text(cli.read_text() + "\nfrom tests.studio.conftest import TOKEN  # noqa: E402\n")
    assert sideways_fixture_imports(tmp_path / "tests") == [
        "tests/cli/test_cli_service.py: imports tests.studio.conftest"
    ]
