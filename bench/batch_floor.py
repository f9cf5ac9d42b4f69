"""The batch benchmark's floor, as its own process (a fresh parent, as a user's script would be):
``python -m bench.batch_floor PAYLOADS.json SCRIPT PROCESSES OUT``.

A plain ``multiprocessing.Pool`` whose initializer imports the entry script and calls its
``init()``; ``imap_unordered`` hands each worker the same mini-batches modelport's runner plans
(a tabular one read by the same reader); the parent writes the rows. Prints one JSON line: the
start time and, per mini-batch, when its rows were written and how many items it held.
"""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import sys
import time
from typing import Any

_module: Any = None


def _init(script: str) -> None:
    global _module
    spec = importlib.util.spec_from_file_location("bench_entry", script)
    assert spec is not None and spec.loader is not None
    _module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_module)
    if hasattr(_module, "init"):
        _module.init()


def _task(payload: dict[str, Any]) -> tuple[int, str]:
    if payload["kind"] == "files":
        mini_batch: Any = list(payload["files"])
    else:
        from modelport.jobs.batch.tabular import read_frame

        mini_batch = read_frame(payload)
    result = _module.run(mini_batch)
    return len(mini_batch), "".join(f"{r}\n" for r in result)


def main(argv: list[str]) -> int:
    t0 = time.time()
    payloads_file, script, processes, out = argv
    with open(payloads_file) as f:
        payloads = json.load(f)
    rows = []
    with (
        multiprocessing.get_context("fork").Pool(
            int(processes), initializer=_init, initargs=(script,)
        ) as pool,
        open(out, "w") as f,
    ):
        for items, text in pool.imap_unordered(_task, payloads, chunksize=1):
            f.write(text)
            rows.append((time.time(), items))
    print(json.dumps({"t0": t0, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
