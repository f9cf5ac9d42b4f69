"""``modelport deploy`` and ``modelport service ...``: deployments from the command line.

Only the SDK facade (``Model.deploy``, ``Webservice``) is used here, as a user's script would.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from modelport.cli._commands import Subparsers, command, describe, group
from modelport.cli._output import emit, model_version, pairs
from modelport.cli.workspace import workspace_of
from modelport.errors import DeploymentError, InvalidInputError, ModelportError, ServiceCallError

# One row of the tutorial's model: 784 pixels (issue 19: a 3-value row answered 500).
RUN_EXAMPLE = """modelport service run mnist-svc "{\\"data\\": [$(python3 -c 'print([0] * 784)')]}\""""


def _report_failure(exc: DeploymentError) -> None:
    """A failed deployment on stderr, once, with the CLI's way to read its log."""
    cause = exc.cause.strip()  # without the SDK's hint (exc.hint): the CLI names its own command
    print(f"error: service '{exc.service}' is {exc.state}: {cause}", file=sys.stderr)
    print(f"(see: modelport service logs {exc.service})", file=sys.stderr, flush=True)


def models_and_config(args: argparse.Namespace, ws: Any) -> tuple[list[Any], Any]:
    """The registered models (``--model NAME[:VERSION]``) and the InferenceConfig (``--entry-script``,
    ``--source-directory``, ``--environment NAME[:VERSION]``) a command was given."""
    from modelport.core.environment import Environment
    from modelport.core.model import InferenceConfig, Model

    models = [Model(ws, name=name, version=version) for name, version in map(model_version, args.model)]
    env = None
    if args.environment:
        env_name, _, env_version = args.environment.partition(":")
        env = Environment.get(ws, env_name, env_version or None)
    config = InferenceConfig(
        entry_script=args.entry_script,
        source_directory=args.source_directory,
        environment=env,
        sample_input=getattr(args, "sample_input", None),
    )
    return models, config


def cmd_deploy(args: argparse.Namespace) -> int:
    from modelport.core.model import Model
    from modelport.core.webservice import AciWebservice

    ws = workspace_of(args)
    models, config = models_and_config(args, ws)
    deployment = AciWebservice.deploy_configuration(
        cpu_cores=args.cpu_cores,
        memory_gb=args.memory_gb,
        auth_enabled=args.auth,
        port=args.port,
        max_body_mb=args.max_body_mb,
    )
    show = not args.json
    try:
        # Model.deploy prints each phase as it ends; the wait prints nothing of its own, so that no
        # line appears twice and a failure is told once, on stderr, by _report_failure.
        service = Model.deploy(
            ws, args.name, models, config, deployment, overwrite=args.overwrite, show_output=show
        )
        if show:
            print("  waiting for init() ...", flush=True)
        service.wait_for_deployment(show_output=False)
    except DeploymentError as exc:
        _report_failure(exc)
        return 1
    emit(args, service.serialize() if args.json else f"{service.name} is Healthy at {service.scoring_uri}")
    return 0


def _service(args: argparse.Namespace) -> Any:
    from modelport.core.webservice import Webservice

    return Webservice(workspace_of(args), args.name)


def cmd_list(args: argparse.Namespace) -> int:
    from modelport.core.webservice import Webservice

    rows = [s.serialize() for s in Webservice.list(workspace_of(args))]
    for row in rows:
        row["models"] = ",".join(row["models"])
    emit(args, rows, ["name", "state", "scoringUri", "models", "computeType", "updatedTime"])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    emit(args, _service(args).serialize())
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    if args.follow:
        if args.init:
            raise InvalidInputError("--init shows the deployment's own lines, which do not grow: no --follow")
        from modelport.cli.follow import follow

        return follow(workspace_of(args), args.name, args.lines)
    print(_service(args).get_logs(num_lines=args.lines, init=args.init))
    return 0


def cmd_traces(args: argparse.Namespace) -> int:
    rows = _service(args).get_traces(num=args.lines)
    if not args.json:
        for row in rows:
            printed = (row.get("printed") or "").rstrip().splitlines()
            row["printed"] = printed[-1][:60] if printed else ""
    emit(args, rows, ["time", "request_id", "status", "latency_ms", "run_ms", "printed"])
    return 0


def _answer_message(exc: ServiceCallError) -> str:
    """What the service said in its error body (v1's ``message``), not the body's JSON."""
    try:
        parsed = json.loads(exc.body)
    except ValueError:
        return exc.body.strip()[:2000]
    message = parsed.get("message") if isinstance(parsed, dict) else None
    return message if isinstance(message, str) and message else exc.body.strip()[:2000]


def cmd_run(args: argparse.Namespace) -> int:
    data = sys.stdin.read() if args.data == "-" else args.data
    try:
        result = _service(args).run(data)
    except ServiceCallError as exc:
        print(
            f"error: service '{args.name}' answered {exc.status_code}: {_answer_message(exc)}",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(result) if not isinstance(result, str) else result)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    svc = _service(args)
    if args.regen:
        svc.regen_key(args.regen)
        emit(args, f"regenerated the {args.regen} key" if not args.json else {"regenerated": args.regen})
        return 0
    primary, secondary = svc.get_keys()
    emit(args, {"primaryKey": primary, "secondaryKey": secondary})
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    svc = _service(args)
    svc.update(
        tags=pairs(args.tag, "--tag") if args.tag else None,
        description=args.description,
        auth_enabled=args.auth,
    )
    emit(args, svc.serialize())
    return 0


def cmd_reload(args: argparse.Namespace) -> int:
    svc = _service(args)
    svc.reload()
    emit(args, svc.serialize() if args.json else f"{svc.name} reloaded")
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    from modelport.core.webservice import Webservice

    if args.all == bool(args.name):
        raise InvalidInputError("give a service NAME or --all")
    ws = workspace_of(args)
    services = Webservice.list(ws) if args.all else [Webservice(ws, args.name)]
    failures = 0
    for svc in services:
        # One service failing to come back must not keep --all from restarting the others.
        try:
            svc.restart()
        except DeploymentError as exc:
            failures += 1
            _report_failure(exc)
            continue
        except ModelportError as exc:
            failures += 1
            print(f"error: {svc.name}: {exc}", file=sys.stderr, flush=True)
            continue
        print(f"{svc.name}: Healthy at {svc.scoring_uri}", flush=True)
    return 1 if failures else 0


def cmd_delete(args: argparse.Namespace) -> int:
    # Webservice(ws, name) raises ServiceNotFound for a name that does not exist.
    _service(args).delete()
    emit(args, f"deleted {args.name}" if not args.json else {"deleted": args.name})
    return 0


def configure(top: Subparsers, common: argparse.ArgumentParser) -> None:
    p = top.add_parser(
        "deploy",
        parents=[common],
        help="deploy models behind a scoring script as a local web service",
        description=describe(
            "deploy registered models behind a scoring script (init()/run()) as a local web service; "
            "prints each phase, then the scoring URI once init() succeeded",
            "modelport deploy mnist-svc --model sklearn_mnist:1 --entry-script score.py "
            "--environment tutorial-env",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(handler=cmd_deploy)
    p.add_argument("name", help="service name: 3-32 lower-case letters, digits and '-'")
    p.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME[:VERSION]",
        help="a registered model (default version: the latest); repeatable",
    )
    p.add_argument("--entry-script", required=True, help="the scoring script with init() and run()")
    p.add_argument(
        "--source-directory", help="folder copied with the script (the entry script is relative to it)"
    )
    p.add_argument("--environment", metavar="NAME[:VERSION]", help="default: the current interpreter")
    p.add_argument("--cpu-cores", type=float, help="v1's cpu_cores: sets the workers and their CPUs")
    p.add_argument("--memory-gb", type=float, help="v1's memory_gb: a worker growing past it is recycled")
    p.add_argument("--auth", action="store_true", help="require a key (Authorization: Bearer ...)")
    p.add_argument("--port", type=int, help="TCP port on 127.0.0.1 (default: a free one)")
    p.add_argument(
        "--max-body-mb", type=float, metavar="MB", help="largest request body, then 413 (default 100)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing service, no downtime")
    p.add_argument(
        "--sample-input",
        metavar="FILE",
        help="a JSON file holding a request body run() accepts: the example of /swagger, the V2 "
        "metadata's inputs and the studio's Test tab (default: the model's sample_input_dataset)",
    )

    sub = group(
        top,
        "service",
        "list, inspect, call, update, restart and delete deployed services",
        "modelport service list",
        RUN_EXAMPLE,
        "modelport service logs mnist-svc --follow",
    )

    def service_command(name: str, handler: Any, summary: str, *examples: str) -> argparse.ArgumentParser:
        c = command(sub, name, handler, summary, *examples, parents=[common])
        c.add_argument("name", help="service name")
        return c

    command(
        sub,
        "list",
        cmd_list,
        "list services with their observed state",
        "modelport service list --json",
        parents=[common],
    )
    service_command("show", cmd_show, "show a service (never its keys)", "modelport service show mnist-svc")
    c = service_command(
        "logs",
        cmd_logs,
        "print a service's log; with --follow, go on printing its new lines as they are written "
        "(like tail -f) until Ctrl-C or until the service is deleted",
        "modelport service logs mnist-svc -n 50",
        "modelport service logs mnist-svc --follow",
    )
    c.add_argument("-n", "--lines", type=int, default=200, help="how many last lines (default 200)")
    c.add_argument("--init", action="store_true", help="only the deployment's own lines")
    c.add_argument(
        "-f", "--follow", action="store_true", help="then print new lines as they come, until Ctrl-C"
    )
    c = service_command(
        "traces",
        cmd_traces,
        "print a service's request traces (deployed with enable_app_insights=True)",
        "modelport service traces mnist-svc -n 20 --json",
    )
    c.add_argument("-n", "--lines", type=int, default=50, help="how many last requests (default 50)")
    c = service_command(
        "run",
        cmd_run,
        "score: send DATA to the service, print its answer. DATA is what the service's run() "
        'reads; the tutorial\'s model takes {"data": [[784 pixel values from 0 to 1], ...]}, one '
        "row per 28x28 image (the first example sends one black image)",
        RUN_EXAMPLE,
        "modelport service run mnist-svc - < request.json",
    )
    c.add_argument("data", help="the request body; - reads it from stdin")
    c = service_command(
        "keys",
        cmd_keys,
        "show the keys, or regenerate one",
        "modelport service keys mnist-svc --regen Secondary",
    )
    c.add_argument(
        "--regen", choices=["Primary", "Secondary"], help="regenerate this key (no restart needed)"
    )
    c = service_command(
        "update",
        cmd_update,
        "change tags, description or auth",
        "modelport service update mnist-svc --tag stage=prod --no-auth",
    )
    c.add_argument("--tag", action="append", metavar="KEY=VALUE", help="replace the tags (repeatable)")
    c.add_argument("--description", help="free text shown by service show")
    c.add_argument(
        "--auth",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="turn key auth on or off (redeploys with zero downtime)",
    )
    service_command(
        "reload",
        cmd_reload,
        "re-read the entry script, restart with zero downtime",
        "modelport service reload mnist-svc",
    )
    c = command(
        sub,
        "restart",
        cmd_restart,
        "start a stopped service again (same port, same keys)",
        "modelport service restart mnist-svc",
        "modelport service restart --all",
        parents=[common],
    )
    c.add_argument("name", nargs="?", help="service name (or --all)")
    c.add_argument("--all", action="store_true", help="every service of the workspace")
    service_command("delete", cmd_delete, "stop and remove a service", "modelport service delete mnist-svc")
