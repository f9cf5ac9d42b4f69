"""``modelport workspace ...``, and how every other command finds its workspace (``-w`` or config)."""

from __future__ import annotations

import argparse
from typing import Any

from modelport.cli._commands import Subparsers, command, group
from modelport.cli._output import emit

CREATE = "modelport workspace create NAME --write-config ."


def config_hint() -> str:
    """The CLI's way to pick a workspace, in place of the SDK's hint in from_config()'s error:
    the workspaces that exist, by name, since ``-w NAME`` needs one (issue 19: from the
    repository root the error named none)."""
    from modelport.workspace import Workspace

    names = sorted(Workspace.list())
    if not names:
        return f"no workspace exists yet: make one for this folder with: {CREATE}"
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return (
        f"pick a workspace with -w NAME (workspaces: {shown}; e.g. -w {names[0]}), "
        f"or make one for this folder with: {CREATE}"
    )


def workspace_of(args: argparse.Namespace) -> Any:
    """The workspace named by ``-w``, else the one whose config is found from the current folder up."""
    from modelport.workspace import Workspace, WorkspaceConfigNotFound

    if getattr(args, "workspace", None):
        return Workspace.get(args.workspace)
    try:
        return Workspace.from_config()
    except WorkspaceConfigNotFound as exc:
        raise WorkspaceConfigNotFound(exc.start, config_hint()) from None


def cmd_create(args: argparse.Namespace) -> int:
    from modelport.workspace import Workspace

    ws = Workspace.create(args.name, path=args.path, exist_ok=args.exist_ok)
    if args.write_config:
        ws.write_config(args.write_config)
    emit(args, ws.get_details())
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from modelport.workspace import Workspace

    emit(args, [ws.get_details() for ws in Workspace.list().values()], ["name", "path"])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from modelport.workspace import Workspace

    ws = Workspace.get(args.name) if args.name else workspace_of(args)
    emit(args, ws.get_details())
    return 0


def configure(top: Subparsers, common: argparse.ArgumentParser) -> None:
    sub = group(
        top,
        "workspace",
        "create, list and show workspaces (a workspace is a folder of models, environments, services)",
        "modelport workspace create demo --write-config .",
    )
    p = command(
        sub,
        "create",
        cmd_create,
        "create a workspace",
        "modelport workspace create demo",
        "modelport workspace create demo --path ./ws --write-config .",
        parents=[common],
    )
    p.add_argument("name", help="2-33 letters, digits, '-' or '_'")
    p.add_argument("--path", help="folder for the workspace (default: $MODELPORT_HOME/workspaces/NAME)")
    p.add_argument("--exist-ok", action="store_true", help="succeed if it already exists")
    p.add_argument(
        "--write-config",
        metavar="DIR",
        help="also write DIR/.modelport/config.json, so commands run under DIR find this workspace",
    )
    command(sub, "list", cmd_list, "list workspaces", "modelport workspace list --json", parents=[common])
    p = command(
        sub,
        "show",
        cmd_show,
        "show a workspace (default: the one found from the current folder)",
        "modelport workspace show demo",
        parents=[common],
    )
    p.add_argument("name", nargs="?", help="workspace name (default: -w, or found from the current folder)")
