"""``modelport studio``: the local web app over a workspace, in the foreground."""

from __future__ import annotations

import argparse

from modelport.cli._commands import Subparsers, describe


def configure(top: Subparsers, common: argparse.ArgumentParser) -> None:
    p = top.add_parser(
        "studio",
        parents=[common],
        help="open the local web app over a workspace (services, models, environments)",
        description=describe(
            "serve the studio, a web app over the workspace's services, models and environments, "
            "until Ctrl-C. It listens on 127.0.0.1 and needs the token in the printed URL "
            "($MODELPORT_STUDIO_TOKEN sets it).",
            "modelport studio",
            "modelport studio -w demo --port 8800 --no-browser",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default: 8765)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1; any other is reachable from the network: warned)",
    )
    p.add_argument("--no-browser", action="store_true", help="print the URL without opening a browser")
    p.set_defaults(handler=_studio)


def _studio(args: argparse.Namespace) -> int:
    from modelport.cli.workspace import workspace_of
    from modelport.studio import run

    run(workspace_of(args), host=args.host, port=args.port, open_browser=not args.no_browser)
    return 0
