"""``modelport model ...``: register, list, show, download, tag and delete model versions."""

from __future__ import annotations

import argparse
from typing import Any

from modelport.cli._commands import Subparsers, command, group
from modelport.cli._output import emit, model_version, pairs, split_ref
from modelport.cli.workspace import workspace_of
from modelport.errors import InvalidInputError


def _row(m: Any) -> dict[str, Any]:
    data: dict[str, Any] = m.serialize()
    data.pop("workspace", None)
    return data


def _get(args: argparse.Namespace, ref: str) -> Any:
    from modelport.core.model import Model

    name, version = model_version(ref)
    return Model(workspace_of(args), name=name, version=version)


def cmd_register(args: argparse.Namespace) -> int:
    from modelport.core.model import Model

    model = Model.register(
        workspace_of(args),
        model_path=args.path,
        model_name=args.name,
        tags=pairs(args.tag, "--tag"),
        properties=pairs(args.property, "--property"),
        description=args.description,
        model_framework=args.framework,
        model_framework_version=args.framework_version,
    )
    emit(args, _row(model))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from modelport.core.model import Model

    tags = [[k, v] if sep else k for k, sep, v in (t.partition("=") for t in args.tag or [])]
    models = Model.list(workspace_of(args), name=args.name, tags=tags or None, latest=args.latest)
    rows = [_row(m) for m in models]
    for row in rows:
        row["tags"] = ",".join(f"{k}={v}" for k, v in row["tags"].items())
    emit(args, rows, ["name", "version", "createdTime", "tags", "description"])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    model = _get(args, args.model)
    row = _row(model)
    row["files"] = [{"path": f.relpath, "sha256": f.sha256, "size": f.size} for f in model.files]
    emit(args, row)
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    path = _get(args, args.model).download(target_dir=args.target, exist_ok=args.exist_ok)
    emit(args, {"path": path} if args.json else path)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    name, version = split_ref(args.model)
    if version is None:
        raise InvalidInputError(f"say which version to delete: {name}:<version>")
    model = _get(args, args.model)
    model.delete()
    emit(args, {"deleted": model.id} if args.json else f"deleted {model.id}")
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    model = _get(args, args.model)
    if args.add:
        model.add_tags(pairs(args.add, "--add"))
    if args.remove:
        model.remove_tags(args.remove)
    emit(args, _row(model))
    return 0


def configure(top: Subparsers, common: argparse.ArgumentParser) -> None:
    sub = group(
        top,
        "model",
        "register, list, show, download, tag and delete models",
        "modelport model register -n sklearn_mnist -p outputs/model.pkl --tag data=mnist",
    )
    p = command(
        sub,
        "register",
        cmd_register,
        "register a file or folder as the next version of a model",
        "modelport model register -n sklearn_mnist -p outputs/model.pkl --tag data=mnist",
        parents=[common],
    )
    p.add_argument("-n", "--name", required=True, help="model name (a new version if it exists)")
    p.add_argument("-p", "--path", required=True, help="file or folder to register")
    p.add_argument("--tag", action="append", metavar="KEY=VALUE", help="a tag (repeatable)")
    p.add_argument("--property", action="append", metavar="KEY=VALUE", help="a property (repeatable)")
    p.add_argument("--description", help="free text shown by model show")
    p.add_argument("--framework", help="e.g. ScikitLearn, Onnx, PyTorch (v1's model_framework)")
    p.add_argument("--framework-version", help="the framework's version, e.g. 1.5.0")
    p = command(
        sub,
        "list",
        cmd_list,
        "list models, newest version first",
        "modelport model list --tag data=mnist --latest",
        parents=[common],
    )
    p.add_argument("-n", "--name", help="only versions of this model")
    p.add_argument(
        "--tag", action="append", metavar="KEY[=VALUE]", help="only models with this tag (repeatable)"
    )
    p.add_argument("--latest", action="store_true", help="only the latest version of each name")
    p = command(
        sub,
        "show",
        cmd_show,
        "show a model version and its files",
        "modelport model show sklearn_mnist:1",
        parents=[common],
    )
    p.add_argument("model", metavar="NAME[:VERSION]", help="model (default version: the latest)")
    p = command(
        sub,
        "download",
        cmd_download,
        "download a model, verifying every file",
        "modelport model download sklearn_mnist -t /tmp/m",
        parents=[common],
    )
    p.add_argument("model", metavar="NAME[:VERSION]", help="model (default version: the latest)")
    p.add_argument("-t", "--target", default=".", help="target folder (default: .)")
    p.add_argument("--exist-ok", action="store_true", help="overwrite what is there")
    p = command(
        sub,
        "delete",
        cmd_delete,
        "delete a model version (refused while a service uses it)",
        "modelport model delete sklearn_mnist:1",
        parents=[common],
    )
    p.add_argument("model", metavar="NAME:VERSION", help="the version to delete")
    p = command(
        sub,
        "tag",
        cmd_tag,
        "add or remove tags",
        "modelport model tag sklearn_mnist:1 --add stage=prod --remove draft",
        parents=[common],
    )
    p.add_argument("model", metavar="NAME[:VERSION]", help="model (default version: the latest)")
    p.add_argument("--add", action="append", metavar="KEY=VALUE", help="a tag to set (repeatable)")
    p.add_argument("--remove", action="append", metavar="KEY", help="a tag to remove (repeatable)")
