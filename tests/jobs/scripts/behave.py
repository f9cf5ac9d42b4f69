"""A batch entry script whose files say what it does with them (tests/jobs).

Each input file holds one word: ``ok`` (a row), ``skip`` (no row: a failed item), ``raise``
(run() raises, every try), ``raise-once`` / ``hang-once`` / ``kill-once`` (the first try of the
mini-batch raises, sleeps past the timeout, or SIGKILLs the worker; later tries succeed), and
``slow`` (a row after 50 ms). "Once" is remembered in $MARKS (a folder).
"""

import argparse
import os
import signal
import time

from azureml_user.parallel_run import EntryScript


def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--tag", default="none")
    args, _ = parser.parse_known_args()
    EntryScript().logger.info("init() in %s", EntryScript().agent_name)
    print(f"init {EntryScript().agent_name} output_dir={os.environ['AZUREML_BI_OUTPUT_PATH']}")


def _first_time(path):
    mark = os.path.join(os.environ["MARKS"], os.path.basename(path))
    try:
        fd = os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def run(mini_batch):
    rows = []
    for path in mini_batch:
        with open(path) as f:
            word = f.read().strip()
        if word == "skip":
            continue
        if word == "raise":
            raise ValueError(f"bad item {os.path.basename(path)}")
        if word == "raise-once" and _first_time(path):
            raise RuntimeError(f"transient failure on {os.path.basename(path)}")
        if word == "hang-once" and _first_time(path):
            time.sleep(3600)
        if word == "kill-once" and _first_time(path):
            os.kill(os.getpid(), signal.SIGKILL)
        if word == "slow":
            time.sleep(0.05)
        rows.append(f"{os.path.basename(path)} {word} {args.tag}")
    return rows
