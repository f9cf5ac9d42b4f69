"""``python -m modelport.server --entry-script score.py ...``: what deployments launch."""

from __future__ import annotations

import argparse
import sys

from modelport.server.cli import configure_parser, serve


def main(argv: list[str] | None = None) -> int:
    """Parse the serve options and run the server."""
    parser = argparse.ArgumentParser(prog="python -m modelport.server", description="Run a scoring server.")
    configure_parser(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
