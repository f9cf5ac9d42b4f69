"""``modelport environment ...``: register, list and show environments (pip/conda specs)."""

from __future__ import annotations

import argparse
from typing import Any

from modelport.cli._commands import Subparsers, command, group
from modelport.cli._output import emit, pairs, split_ref
from modelport.cli.workspace import workspace_of
from modelport.errors import InvalidInputError


def _row(env: Any, replaced: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = env.to_spec()
    if replaced and (lines := env.pin_replacements()):
        spec["replaced"] = lines  # what its build replaced (docs/environments.md, "Old pins")
    return spec


def cmd_register(args: argparse.Namespace) -> int:
    from modelport.core.conda_dependencies import CondaDependencies
    from modelport.core.environment import Environment

    given = [x for x in (args.requirements, args.conda_file) if x]
    if len(given) > 1:
        raise InvalidInputError("give at most one of --requirements and --conda-file")
    if args.requirements:
        env = Environment.from_pip_requirements(args.name, args.requirements)
    elif args.conda_file:
        env = Environment.from_conda_specification(args.name, args.conda_file)
    else:
        env = Environment(args.name)
        env.python.conda_dependencies = CondaDependencies.create(python_version=args.python_version)
    for pkg in args.pip or []:
        env.python.conda_dependencies.add_pip_package(pkg)
    if args.python_version:
        env.python.conda_dependencies.set_python_version(args.python_version)
    env.environment_variables.update(pairs(args.env, "--env"))
    registered = env.register(workspace_of(args))
    emit(args, _row(registered))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from modelport.core.environment import Environment

    rows = [_row(e) for e in Environment.list(workspace_of(args)).values()]
    for row in rows:
        row["packages"] = " ".join(row["pip_packages"] + row["conda_packages"])
    emit(args, rows, ["name", "version", "python_version", "packages"])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from modelport.core.environment import Environment

    name, version = split_ref(args.environment)
    emit(args, _row(Environment.get(workspace_of(args), name, version), replaced=True))
    return 0


def configure(top: Subparsers, common: argparse.ArgumentParser) -> None:
    sub = group(
        top,
        "environment",
        "register, list and show environments (the Python packages a service runs with)",
        "modelport environment register -n tutorial-env --pip scikit-learn==1.5.0",
    )
    p = command(
        sub,
        "register",
        cmd_register,
        "register an environment (a new version if it changed)",
        "modelport environment register -n tutorial-env --pip scikit-learn==1.5.0 --pip joblib",
        "modelport environment register -n from-file --requirements requirements.txt",
        parents=[common],
    )
    p.add_argument("-n", "--name", required=True, help="environment name")
    p.add_argument("--requirements", metavar="FILE", help="a pip requirements file")
    p.add_argument("--conda-file", metavar="FILE", help="a conda YAML (dependencies and its pip section)")
    p.add_argument("--pip", action="append", metavar="PACKAGE", help="a pip package (repeatable)")
    p.add_argument("--python-version", metavar="X.Y", help="the Python version, e.g. 3.11")
    p.add_argument("--env", action="append", metavar="KEY=VALUE", help="an environment variable")
    command(
        sub,
        "list",
        cmd_list,
        "list environments (latest versions)",
        "modelport environment list",
        parents=[common],
    )
    p = command(
        sub,
        "show",
        cmd_show,
        "show an environment",
        "modelport environment show tutorial-env:1",
        parents=[common],
    )
    p.add_argument("environment", metavar="NAME[:VERSION]", help="environment (default: the latest)")
