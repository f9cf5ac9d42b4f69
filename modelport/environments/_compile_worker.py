"""Byte-compiles files for the environment builder; run by path with the new virtualenv's Python.

Reads ``[[label, [file, ...]], ...]`` as JSON on stdin, compiles every file (in parallel, one
process per CPU) and prints ``done <label> <files> <seconds>`` as each label's last file is
done, so the builder can show progress while it runs. Standard library only: it runs inside an
environment before anything else is known to work there.
"""

import json
import multiprocessing
import os
import py_compile
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed


def _compile(files):
    for path in files:
        try:
            py_compile.compile(path, doraise=True)
        except (py_compile.PyCompileError, OSError, ValueError):
            pass  # a file this Python cannot compile (Python 2 leftovers, templates): import decides
    return len(files)


def main():
    jobs = json.load(sys.stdin)
    remaining = {label: len(files) for label, files in jobs}
    started = time.monotonic()
    chunks = [(label, files[i : i + 40]) for label, files in jobs for i in range(0, len(files), 40)]
    for label, count in remaining.items():
        if count == 0:
            print(f"done {label} 0 0.00", flush=True)
    if not chunks:
        return
    workers = min(len(chunks), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        futures = {pool.submit(_compile, files): label for label, files in chunks}
        for future in as_completed(futures):
            label = futures[future]
            remaining[label] -= future.result()
            if remaining[label] == 0:
                seconds = time.monotonic() - started
                print(f"done {label} {sum(len(f) for n, f in jobs if n == label)} {seconds:.2f}", flush=True)


if __name__ == "__main__":
    main()
