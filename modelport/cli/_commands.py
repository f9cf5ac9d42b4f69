"""How a command is declared: a group (``modelport model``), its commands, each with a description
ending in an example, and the options every command takes (``-w``, ``--json``)."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import TypeAlias

Handler = Callable[[argparse.Namespace], int]
# A string: argparse's _SubParsersAction is generic only for type checkers.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def common_options() -> argparse.ArgumentParser:
    """The parent parser of every workspace command: ``-w/--workspace`` and ``--json``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-w", "--workspace", metavar="NAME", help="workspace name (default: found from the current folder)"
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    return common


def describe(summary: str, *examples: str) -> str:
    """A description: the summary, then its examples, one per line."""
    lines = "\n".join(f"  {e}" for e in examples)
    return f"{textwrap.fill(summary, 79)}\n\nexample{'s' if len(examples) > 1 else ''}:\n{lines}"


def group(top: Subparsers, name: str, summary: str, *examples: str) -> Subparsers:
    """Add a command group (``modelport NAME ACTION``); returns the parser its commands go into."""
    p = top.add_parser(
        name,
        help=summary,
        description=describe(summary, *examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return p.add_subparsers(dest="action", metavar="ACTION", required=True)


def command(
    sub: Subparsers,
    name: str,
    handler: Handler,
    summary: str,
    *examples: str,
    parents: list[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add one command calling ``handler(args)``; its exit status is what the handler returns."""
    p = sub.add_parser(
        name,
        parents=parents,
        help=summary,
        description=describe(summary, *examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(handler=handler)
    return p
