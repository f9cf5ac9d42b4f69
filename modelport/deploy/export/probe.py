"""``python -m modelport.deploy.export.probe --config serve.json``: exit 0 when the scoring
server on this machine is ready (``/health/ready`` answers 200), else 1.

The image's HEALTHCHECK and, for services with auth, the Kubernetes readiness probe: readiness
needs credentials when auth is on, so the probe sends a credential from the mounted keys file.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

from modelport.keys import probe_credential


def probe_ready(url: str, credential: str | None, timeout: float) -> bool:
    """Whether ``url`` answers 200. The standard library's client: the serving environment holds
    only what the server needs (no requests)."""
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelport.deploy.export.probe", description=__doc__)
    parser.add_argument("--config", type=Path, help="the server's JSON configuration (for its keys file)")
    parser.add_argument("--port", type=int, default=5001, help="the server's port (default 5001)")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for an answer")
    args = parser.parse_args(argv)
    credential = None
    if args.config is not None:
        try:
            keys_file = json.loads(args.config.read_text()).get("keys_file")
            if keys_file:
                path = Path(keys_file)
                path = path if path.is_absolute() else args.config.parent / path
                credential = probe_credential(path)
        except (OSError, ValueError, KeyError):
            return 1
    url = f"http://127.0.0.1:{args.port}/health/ready"
    return 0 if probe_ready(url, credential, timeout=args.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
