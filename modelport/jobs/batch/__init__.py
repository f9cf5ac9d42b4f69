"""Batch runs: v1's ParallelRunStep engine on this machine (also ``modelport batch score``).

The pipeline facade and the CLI turn their arguments into a :class:`BatchSpec` (everything
resolved) and call :func:`submit`. A supervisor process (``python -m modelport.jobs.batch``)
cuts the inputs into mini-batches, runs them on long-lived worker processes (each calls the
entry script's ``init()`` once, then ``run(mini_batch)``), retries what fails, enforces v1's
thresholds, and records every finished mini-batch with its rows in a journal before its rows
reach the output file, so a run killed at any moment and resumed scores each item exactly once.

Example::

    from modelport.jobs import batch

    spec = batch.BatchSpec(entry_script="score.py", source_directory="/abs/code",
                           interpreter=sys.executable,
                           inputs=(batch.BatchInput("images", "files", tuple(files)),),
                           output_dir="/abs/out", mini_batch_size=10, process_count_per_node=2)
    record = batch.submit(ws, "mnist-batch", spec)
    batch.follow(ws, record.id)     # a progress bar (or milestone lines) until it ends
"""

from __future__ import annotations

from modelport.jobs.batch.progress import Progress, ProgressView, follow, snapshot
from modelport.jobs.batch.runs import KIND, cancel, load, resume, submit
from modelport.jobs.batch.spec import (
    BatchInput,
    BatchSpec,
    check_entry_script,
    parse_mini_batch_size,
)

__all__ = [
    "KIND",
    "BatchInput",
    "BatchSpec",
    "Progress",
    "ProgressView",
    "cancel",
    "check_entry_script",
    "follow",
    "load",
    "parse_mini_batch_size",
    "resume",
    "snapshot",
    "submit",
]
