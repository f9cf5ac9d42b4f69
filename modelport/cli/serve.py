"""``modelport serve``: one scoring script behind the scoring server, in the foreground."""

from __future__ import annotations

import functools

from modelport.cli._commands import Subparsers, describe


def configure(top: Subparsers) -> None:
    import argparse

    from modelport.server.cli import configure_parser, serve

    p = top.add_parser(
        "serve",
        help="run a scoring script behind the scoring server (local debugging)",
        description=describe(
            "run a scoring script behind the scoring server in the foreground, until Ctrl-C",
            "modelport serve --entry-script score.py --model-dir ./model --port 5001",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    configure_parser(p)
    p.set_defaults(handler=functools.partial(serve, foreground=True))
