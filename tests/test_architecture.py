"""The layers of docs/architecture.md hold: import contracts (import-linter) and no import cycles."""

from __future__ import annotations

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


def test_no_import_cycles() -> None:
    """No module reaches itself through the modules it imports (at any depth, lazy imports included)."""
    graph = grimp.build_graph("modelport")
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
