"""The ``modelport`` command: workspaces, models, environments, the scoring server, services.

Every expected failure (a :class:`~modelport.errors.ModelportError`) prints one line,
``error: ...``, on stderr and exits 1; anything else is a bug, reported as an unexpected error
with its traceback. Tables for people, ``--json`` for scripts. The workspace is ``-w NAME`` or
found from the current folder up (``Workspace.from_config``).

Example::

    modelport workspace create demo --write-config .
    modelport model register -n sklearn_mnist -p outputs/model.pkl
    modelport deploy mnist-svc --model sklearn_mnist --entry-script score.py
    python -m modelport.cli service list --json
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from modelport import __version__
from modelport.cli import (
    batch,
    cluster,
    environment,
    export,
    job,
    model,
    monitor,
    serve,
    service,
    studio,
    workspace,
)
from modelport.cli._commands import common_options, describe
from modelport.errors import ModelportError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one subcommand (or group of them) per module of this package."""
    parser = argparse.ArgumentParser(
        prog="modelport",
        description=describe(
            "Register, deploy and score Python models as local web services (Azure ML v1 API).",
            "modelport deploy mnist-svc --model sklearn_mnist --entry-script score.py",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"modelport {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_options()
    for group in (workspace, model, environment, cluster):
        group.configure(top, common)
    serve.configure(top)
    service.configure(top, common)
    export.configure(top, common)
    studio.configure(top, common)
    batch.configure(top, common)
    job.configure(top, common)
    monitor.configure(top, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status (1 for an error, 130 when interrupted)."""
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
        # The reader went away (``... | head``): what is still buffered must not fail again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        # Not an error modelport expects: a bug, so keep the traceback for the report.
        what = " ".join(x for x in (args.command, getattr(args, "action", None)) if x)
        print(
            f"error: unexpected error in 'modelport {what}' (a bug; the traceback follows): "
            f"{type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        traceback.print_exc(file=sys.stderr)
        return 1
