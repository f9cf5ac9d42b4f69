"""``modelport deploy`` and ``modelport service ...``: deployments from the command line."""

from __future__ import annotations

import argparse
from typing import Any

from modelport.errors import InvalidInputError


def _ws(args: argparse.Namespace) -> Any:
    from modelport.cli import workspace_of

    return workspace_of(args)


def _emit(args: argparse.Namespace, data: Any, columns: list[str] | None = None) -> None:
    from modelport.cli import emit

    emit(args, data, columns)


def cmd_deploy(args: argparse.Namespace) -> int:
    from modelport.core.environment import Environment
    from modelport.core.model import InferenceConfig, Model
    from modelport.core.webservice import AciWebservice, Webservice

    ws = _ws(args)
    models = []
    for ref in args.model:
        name, _, version = ref.partition(":")
        if version and not version.isdigit():
            raise InvalidInputError(f"invalid model reference {ref!r}: expected NAME or NAME:VERSION")
        models.append(Model(ws, name=name, version=int(version) if version else None))
    env = None
    if args.environment:
        env_name, _, env_version = args.environment.partition(":")
        env = Environment.get(ws, env_name, env_version or None)
    config = InferenceConfig(
        entry_script=args.entry_script, source_directory=args.source_directory, environment=env
    )
    deployment = AciWebservice.deploy_configuration(
        cpu_cores=args.cpu_cores, memory_gb=args.memory_gb, auth_enabled=args.auth, port=args.port
    )
    show = not args.json
    service: Webservice = Model.deploy(
        ws, args.name, models, config, deployment, overwrite=args.overwrite, show_output=show
    )
    service.wait_for_deployment(show_output=show)
    _emit(args, service.serialize() if args.json else f"{service.name} is Healthy at {service.scoring_uri}")
    return 0


def _service(args: argparse.Namespace) -> Any:
    from modelport.core.webservice import Webservice

    return Webservice(_ws(args), args.name)


def cmd_list(args: argparse.Namespace) -> int:
    from modelport.core.webservice import Webservice

    rows = [s.serialize() for s in Webservice.list(_ws(args))]
    for row in rows:
        row["models"] = ",".join(row["models"])
    _emit(args, rows, ["name", "state", "scoringUri", "models", "computeType", "updatedTime"])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    _emit(args, _service(args).serialize())
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    print(_service(args).get_logs(num_lines=args.lines, init=args.init))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import json
    import sys

    data = sys.stdin.read() if args.data == "-" else args.data
    result = _service(args).run(data)
    print(json.dumps(result) if not isinstance(result, str) else result)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    svc = _service(args)
    if args.regen:
        svc.regen_key(args.regen)
        _emit(args, f"regenerated the {args.regen} key" if not args.json else {"regenerated": args.regen})
        return 0
    primary, secondary = svc.get_keys()
    _emit(args, {"primaryKey": primary, "secondaryKey": secondary})
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from modelport.cli import _pairs

    svc = _service(args)
    svc.update(
        tags=_pairs(args.tag, "--tag") if args.tag else None,
        description=args.description,
        auth_enabled=args.auth,
    )
    _emit(args, svc.serialize())
    return 0


def cmd_reload(args: argparse.Namespace) -> int:
    svc = _service(args)
    svc.reload()
    _emit(args, svc.serialize() if args.json else f"{svc.name} reloaded")
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    from modelport.core.webservice import Webservice
    from modelport.deploy import service as engine

    ws = _ws(args)
    if args.all == bool(args.name):
        raise InvalidInputError("give a service NAME or --all")
    names = engine.names(ws) if args.all else [args.name]
    failures = 0
    for name in names:
        svc = Webservice(ws, name)
        try:
            svc.restart()
            print(f"{name}: Healthy at {svc.scoring_uri}")
        except Exception as exc:
            failures += 1
            print(f"{name}: {exc}")
    return 1 if failures else 0


def cmd_delete(args: argparse.Namespace) -> int:
    from modelport.deploy import service as engine

    engine.delete(_ws(args), args.name)
    _emit(args, f"deleted {args.name}" if not args.json else {"deleted": args.name})
    return 0


def configure_commands(top: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-w", "--workspace", help="workspace name (default: found from the current folder)")
    common.add_argument("--json", action="store_true", help="print JSON for scripts")

    p = top.add_parser(
        "deploy",
        parents=[common],
        help="deploy models behind a scoring script",
        description="example: modelport deploy mnist-svc --model sklearn_mnist:1 --entry-script score.py "
        "--environment tutorial-env",
    )
    p.set_defaults(handler=cmd_deploy)
    p.add_argument("name")
    p.add_argument("--model", action="append", required=True, metavar="NAME[:VERSION]")
    p.add_argument("--entry-script", required=True)
    p.add_argument("--source-directory")
    p.add_argument("--environment", metavar="NAME[:VERSION]", help="default: the current interpreter")
    p.add_argument("--cpu-cores", type=float)
    p.add_argument("--memory-gb", type=float)
    p.add_argument("--auth", action="store_true", help="require a key (Authorization: Bearer ...)")
    p.add_argument("--port", type=int)
    p.add_argument("--overwrite", action="store_true", help="replace an existing service, no downtime")

    svc = top.add_parser("service", help="list, inspect, call, update and delete services")
    sub = svc.add_subparsers(dest="action", metavar="ACTION", required=True)

    def command(name: str, handler: Any, help_text: str, with_name: bool = True) -> argparse.ArgumentParser:
        c = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        c.set_defaults(handler=handler)
        if with_name:
            c.add_argument("name")
        return c

    command("list", cmd_list, "list services with their observed state", with_name=False)
    command("show", cmd_show, "show a service")
    c = command("logs", cmd_logs, "print a service's log")
    c.add_argument("-n", "--lines", type=int, default=200)
    c.add_argument("--init", action="store_true", help="only the deployment's own lines")
    c = command("run", cmd_run, "score: modelport service run NAME '{\"data\": [[...]]}' (- reads stdin)")
    c.add_argument("data")
    c = command("keys", cmd_keys, "show the keys, or --regen Primary|Secondary")
    c.add_argument("--regen", choices=["Primary", "Secondary"])
    c = command("update", cmd_update, "change tags, description or auth")
    c.add_argument("--tag", action="append", metavar="KEY=VALUE")
    c.add_argument("--description")
    c.add_argument("--auth", action=argparse.BooleanOptionalAction, default=None)
    command("reload", cmd_reload, "re-read the entry script, restart with zero downtime")
    c = command(
        "restart", cmd_restart, "start a stopped service again (same port, same keys)", with_name=False
    )
    c.add_argument("name", nargs="?")
    c.add_argument("--all", action="store_true", help="every service of the workspace")
    command("delete", cmd_delete, "stop and remove a service")
