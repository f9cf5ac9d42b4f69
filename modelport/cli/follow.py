"""``modelport service logs NAME --follow``: a service's log as it is written, like ``tail -f``.

First the last lines (``get_logs``, as without ``--follow``), then every line appended to the
service's log file, until Ctrl-C (exit 0, no traceback) or until the service is deleted (a line on
stderr says so, exit 0). A redeployment (``--overwrite``, ``update``, ``reload``) moves the service
into a new folder with a new log file: the follower moves with it.

v1 has no call for this, so it reads the service record's log file, as the studio's live log does;
everything else goes through the SDK facade.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO

POLL_S = 0.2
"""How often the log file is looked at (new lines show within this)."""
RECHECK_S = 1.0
"""How often the record is read again: deleted (the follower ends), or moved to a new log file."""


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path is not None else 0
    except OSError:
        return 0


def _log_file(ws: Any, name: str) -> Path | None:
    """The service's log file now; raises ServiceNotFound once the service is deleted."""
    from modelport.deploy import records

    log_file = records.load(ws, name).log_file
    return Path(log_file) if log_file else None


def follow(ws: Any, name: str, lines: int, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Print the last ``lines`` lines of service ``name``'s log, then its new lines as they come."""
    from modelport.core.webservice import Webservice
    from modelport.errors import ServiceNotFound

    service = Webservice(ws, name)  # ServiceNotFound for a name with no service: one error line
    path = _log_file(ws, name)
    try:
        # The first lines and the point to follow from must agree: again if the log grew meanwhile.
        for _ in range(5):
            offset = _size(path)
            first = service.get_logs(num_lines=lines)
            if _size(path) == offset:
                break
        offset = _size(path)
        if first:
            print(first, file=out, flush=True)
        pending = b""
        checked = time.monotonic()
        while True:
            time.sleep(POLL_S)
            size = _size(path)
            if size < offset:  # truncated or replaced: from its start
                offset = 0
            if path is not None and size > offset:
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read(size - offset)
                offset += len(chunk)
                *complete, pending = (pending + chunk).split(b"\n")
                if complete:
                    out.write("".join(line.decode("utf-8", "replace") + "\n" for line in complete))
                    out.flush()
            if time.monotonic() - checked >= RECHECK_S:
                checked = time.monotonic()
                try:
                    moved = _log_file(ws, name)
                except ServiceNotFound:
                    if pending:
                        print(pending.decode("utf-8", "replace"), file=out, flush=True)
                    print(f"service '{name}' was deleted: no more log to follow", file=err, flush=True)
                    return 0
                if moved != path:
                    path, offset, pending = moved, 0, b""
    except KeyboardInterrupt:
        # Ctrl-C is how a follow ends: not an error, nothing to report.
        return 0
