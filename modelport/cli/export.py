"""``modelport package`` and ``modelport export``: leave the laptop as a Docker build context, and
as Kubernetes, KServe or KubeRay manifests. Only the SDK facade is used, as a user's script would."""

from __future__ import annotations

import argparse
from pathlib import Path

from modelport.cli._commands import Subparsers, describe
from modelport.cli._output import emit
from modelport.cli.service import models_and_config
from modelport.cli.workspace import workspace_of


def cmd_package(args: argparse.Namespace) -> int:
    from modelport.core.model import Model

    ws = workspace_of(args)
    models, config = models_and_config(args, ws)
    package = Model.package(
        ws, models, config, generate_dockerfile=True, image_name=args.image_name, image_label=args.image_label
    )
    package.save(args.output)
    if args.json:
        emit(args, {**package.serialize(), "output": args.output})
    else:
        print(package.get_logs(), end="")
        print(f"build context in {args.output}: docker build -t {package.image} {args.output}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from modelport.core.webservice import Webservice

    service = Webservice(workspace_of(args), args.name)
    result = service.export(args.output, format=args.format, image=args.image)
    data = {
        "context": str(result.context.root),
        "contexts": {name or args.name: str(c.root) for name, c in result.contexts.items()},
        "image": result.image,
        "formats": result.formats,
        "manifests": [str(p) for p in result.manifests],
    }
    if args.json:
        emit(args, data)
    else:
        for name, context in result.contexts.items():
            of = f" of version {name}" if name else ""
            print(f"build context{of} in {context.root}: docker build -t {context.image} {context.root}")
        for fmt in result.formats:
            print(f"{fmt} manifests: kubectl apply -f {Path(args.output) / fmt}")
    return 0


def configure(top: Subparsers, common: argparse.ArgumentParser) -> None:
    p = top.add_parser(
        "package",
        parents=[common],
        help="a Docker build context for registered models behind a scoring script (Model.package)",
        description=describe(
            "write a self-contained Docker build context (Dockerfile, models, entry script, server "
            "settings, the environment's requirements locked with hashes) for registered models",
            "modelport package --model sklearn_mnist:1 --entry-script score.py --environment tutorial-env "
            "-o ./mnist-image",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(handler=cmd_package)
    p.add_argument("--model", action="append", required=True, metavar="NAME[:VERSION]", help="repeatable")
    p.add_argument("--entry-script", required=True, help="the scoring script with init() and run()")
    p.add_argument("--source-directory", help="folder copied with the script")
    p.add_argument("--environment", metavar="NAME[:VERSION]", help="default: the current interpreter")
    p.add_argument("--image-name", help="the image's name (default: package-<id>)")
    p.add_argument("--image-label", help="the image's tag (default: latest)")
    p.add_argument("-o", "--output", required=True, help="a new or empty folder")

    e = top.add_parser(
        "export",
        parents=[common],
        help="a deployed service as a Docker build context plus Kubernetes/KServe/KubeRay manifests",
        description=describe(
            "write a deployed service's Docker build context into a folder, and its manifests into "
            "<folder>/<format>/ (docker: the build context only)",
            "modelport export mnist-svc -o ./mnist-k8s --format kubernetes,kserve,kuberay",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.set_defaults(handler=cmd_export)
    e.add_argument("name", help="the service")
    e.add_argument("-o", "--output", required=True, help="a new or empty folder")
    e.add_argument(
        "--format",
        default="kubernetes",
        metavar="FORMAT[,FORMAT...]",
        help="manifests to write: kubernetes, kserve, kuberay, several comma-separated (prepared once), "
        "or docker for the build context only (default kubernetes)",
    )
    e.add_argument(
        "--image",
        metavar="NAME:TAG",
        help="the image the manifests run, to build and push under that name "
        "(default: <service>:<model version>, e.g. mnist-svc:1)",
    )
