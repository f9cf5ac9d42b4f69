"""An @array_input script for the fast paths and batching: one answer per row.

Each row's answer is [row sum, rows in the run() call that scored it], so a test can check both
that it got its own rows back and whether it was batched. A negative value makes run() raise.
"""

import time

from modelport.runtime import array_input


def init():
    pass


@array_input(dtype="float64", shape=(None, 3), name="data")
def run(data):
    if (data < 0).any():
        raise ValueError("negative values are not allowed")
    time.sleep(0.01)  # lets concurrent requests queue up behind a run() call
    return [[float(row.sum()), len(data)] for row in data]
