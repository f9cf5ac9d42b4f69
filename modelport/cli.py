"""The ``modelport`` command: workspaces, models, environments, the scoring server, services.

Every expected failure prints one line, ``error: ...``, and exits 1; tables for people, ``--json``
for scripts. The workspace is ``-w NAME`` or found from the current folder (``from_config``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from modelport import __version__
from modelport.errors import InvalidInputError, ModelportError

Handler = Callable[[argparse.Namespace], int]


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[str(c).upper() for c in columns]] + [
        ["" if r.get(c) is None else str(r.get(c)) for c in columns] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def emit(args: argparse.Namespace, data: Any, columns: Sequence[str] | None = None) -> None:
    """Print ``data`` as JSON (``--json``), a table (a list with ``columns``), or key: value lines."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str))
    elif isinstance(data, list):
        print(_table(data, columns or (list(data[0]) if data else [])) if data else "(none)")
    elif isinstance(data, dict):
        width = max((len(k) for k in data), default=0)
        for k, v in data.items():
            text = json.dumps(v) if isinstance(v, dict | list) else v
            print(f"{k.ljust(width)}  {text}")
    else:
        print(data)


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"{what} must look like key=value, got {item!r}")
        out[key] = value
    return out


def workspace_of(args: argparse.Namespace) -> Any:
    from modelport.workspace import Workspace

    if getattr(args, "workspace", None):
        return Workspace.get(args.workspace)
    return Workspace.from_config()


def _split_ref(ref: str) -> tuple[str, str | None]:
    name, _, version = ref.partition(":")
    return name, version or None


# -- workspace ---------------------------------------------------------------------------------
def cmd_workspace_create(args: argparse.Namespace) -> int:
    from modelport.workspace import Workspace

    ws = Workspace.create(args.name, path=args.path, exist_ok=args.exist_ok)
    if args.write_config:
        ws.write_config(args.write_config)
    emit(args, ws.get_details())
    return 0


def cmd_workspace_list(args: argparse.Namespace) -> int:
    from modelport.workspace import Workspace

    emit(args, [ws.get_details() for ws in Workspace.list().values()], ["name", "path"])
    return 0


def cmd_workspace_show(args: argparse.Namespace) -> int:
    from modelport.workspace import Workspace

    ws = Workspace.get(args.name) if args.name else workspace_of(args)
    emit(args, ws.get_details())
    return 0


# -- model -------------------------------------------------------------------------------------
def _model_row(m: Any) -> dict[str, Any]:
    data: dict[str, Any] = m.serialize()
    data.pop("workspace", None)
    return data


def _get_model(args: argparse.Namespace, ref: str) -> Any:
    from modelport.core.model import Model

    name, version = _split_ref(ref)
    if version is not None and not version.isdigit():
        raise InvalidInputError(f"invalid model reference {ref!r}: expected NAME or NAME:VERSION")
    return Model(workspace_of(args), name=name, version=int(version) if version else None)


def cmd_model_register(args: argparse.Namespace) -> int:
    from modelport.core.model import Model

    model = Model.register(
        workspace_of(args),
        model_path=args.path,
        model_name=args.name,
        tags=_pairs(args.tag, "--tag"),
        properties=_pairs(args.property, "--property"),
        description=args.description,
        model_framework=args.framework,
        model_framework_version=args.framework_version,
    )
    emit(args, _model_row(model))
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    from modelport.core.model import Model

    tags = [[k, v] if sep else k for k, sep, v in (t.partition("=") for t in args.tag or [])]
    models = Model.list(workspace_of(args), name=args.name, tags=tags or None, latest=args.latest)
    rows = [_model_row(m) for m in models]
    for row in rows:
        row["tags"] = ",".join(f"{k}={v}" for k, v in row["tags"].items())
    emit(args, rows, ["name", "version", "createdTime", "tags", "description"])
    return 0


def cmd_model_show(args: argparse.Namespace) -> int:
    model = _get_model(args, args.model)
    row = _model_row(model)
    row["files"] = [{"path": f.relpath, "sha256": f.sha256, "size": f.size} for f in model.files]
    emit(args, row)
    return 0


def cmd_model_download(args: argparse.Namespace) -> int:
    path = _get_model(args, args.model).download(target_dir=args.target, exist_ok=args.exist_ok)
    emit(args, {"path": path} if args.json else path)
    return 0


def cmd_model_delete(args: argparse.Namespace) -> int:
    name, version = _split_ref(args.model)
    if version is None:
        raise InvalidInputError(f"say which version to delete: {name}:<version>")
    model = _get_model(args, args.model)
    model.delete()
    emit(args, {"deleted": model.id} if args.json else f"deleted {model.id}")
    return 0


def cmd_model_tag(args: argparse.Namespace) -> int:
    model = _get_model(args, args.model)
    if args.add:
        model.add_tags(_pairs(args.add, "--add"))
    if args.remove:
        model.remove_tags(args.remove)
    emit(args, _model_row(model))
    return 0


# -- environment -------------------------------------------------------------------------------
def _env_row(env: Any) -> dict[str, Any]:
    spec: dict[str, Any] = env.to_spec()
    return spec


def cmd_environment_register(args: argparse.Namespace) -> int:
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
    env.environment_variables.update(_pairs(args.env, "--env"))
    registered = env.register(workspace_of(args))
    emit(args, _env_row(registered))
    return 0


def cmd_environment_list(args: argparse.Namespace) -> int:
    from modelport.core.environment import Environment

    rows = [_env_row(e) for e in Environment.list(workspace_of(args)).values()]
    for row in rows:
        row["packages"] = " ".join(row["pip_packages"] + row["conda_packages"])
    emit(args, rows, ["name", "version", "python_version", "packages"])
    return 0


def cmd_environment_show(args: argparse.Namespace) -> int:
    from modelport.core.environment import Environment

    name, version = _split_ref(args.environment)
    emit(args, _env_row(Environment.get(workspace_of(args), name, version)))
    return 0


# -- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-w", "--workspace", help="workspace name (default: found from the current folder)")
    common.add_argument("--json", action="store_true", help="print JSON for scripts")

    parser = argparse.ArgumentParser(
        prog="modelport",
        description="Register, deploy and score Python models as local web services (Azure ML v1 API).",
    )
    parser.add_argument("--version", action="version", version=f"modelport {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def group(name: str, help_text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        p = top.add_parser(name, help=help_text, description=help_text)
        return p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def command(
        sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: Handler, help_text: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    ws = group("workspace", "create, list and show workspaces")
    p = command(
        ws, "create", cmd_workspace_create, "create a workspace (example: modelport workspace create demo)"
    )
    p.add_argument("name")
    p.add_argument("--path", help="folder for the workspace (default: $MODELPORT_HOME/workspaces/NAME)")
    p.add_argument("--exist-ok", action="store_true", help="succeed if it already exists")
    p.add_argument("--write-config", metavar="DIR", help="also write DIR/.modelport/config.json")
    command(ws, "list", cmd_workspace_list, "list workspaces")
    p = command(ws, "show", cmd_workspace_show, "show a workspace")
    p.add_argument("name", nargs="?")

    md = group("model", "register, list, show, download, tag and delete models")
    p = command(
        md,
        "register",
        cmd_model_register,
        "register a file or folder (example: model register -n m -p model.pkl)",
    )
    p.add_argument("-n", "--name", required=True)
    p.add_argument("-p", "--path", required=True, help="file or folder to register")
    p.add_argument("--tag", action="append", metavar="KEY=VALUE")
    p.add_argument("--property", action="append", metavar="KEY=VALUE")
    p.add_argument("--description")
    p.add_argument("--framework")
    p.add_argument("--framework-version")
    p = command(md, "list", cmd_model_list, "list models")
    p.add_argument("-n", "--name")
    p.add_argument("--tag", action="append", metavar="KEY[=VALUE]")
    p.add_argument("--latest", action="store_true", help="only the latest version of each name")
    p = command(md, "show", cmd_model_show, "show a model (NAME or NAME:VERSION)")
    p.add_argument("model", metavar="NAME[:VERSION]")
    p = command(md, "download", cmd_model_download, "download a model, verifying every file")
    p.add_argument("model", metavar="NAME[:VERSION]")
    p.add_argument("-t", "--target", default=".", help="target folder (default: .)")
    p.add_argument("--exist-ok", action="store_true", help="overwrite what is there")
    p = command(md, "delete", cmd_model_delete, "delete a model version")
    p.add_argument("model", metavar="NAME:VERSION")
    p = command(md, "tag", cmd_model_tag, "add or remove tags")
    p.add_argument("model", metavar="NAME[:VERSION]")
    p.add_argument("--add", action="append", metavar="KEY=VALUE")
    p.add_argument("--remove", action="append", metavar="KEY")

    en = group("environment", "register, list and show environments")
    p = command(
        en, "register", cmd_environment_register, "register an environment (a new version if it changed)"
    )
    p.add_argument("-n", "--name", required=True)
    p.add_argument("--requirements", metavar="FILE", help="a pip requirements file")
    p.add_argument("--conda-file", metavar="FILE", help="a conda YAML (dependencies and its pip section)")
    p.add_argument("--pip", action="append", metavar="PACKAGE", help="a pip package (repeatable)")
    p.add_argument("--python-version")
    p.add_argument("--env", action="append", metavar="KEY=VALUE", help="an environment variable")
    command(en, "list", cmd_environment_list, "list environments (latest versions)")
    p = command(en, "show", cmd_environment_show, "show an environment (NAME or NAME:VERSION)")
    p.add_argument("environment", metavar="NAME[:VERSION]")

    _add_server_and_service_commands(top)
    return parser


def _add_server_and_service_commands(top: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from modelport.deploy.cli import configure_commands
    from modelport.server.cli import configure_parser, serve

    p = top.add_parser(
        "serve",
        help="run a scoring script behind the scoring server (local debugging)",
        description="example: modelport serve --entry-script score.py --model-dir ./model --port 5001",
    )
    configure_parser(p)
    p.set_defaults(handler=serve)
    configure_commands(top)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        code: int = args.handler(args)
        return code
    except ModelportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
