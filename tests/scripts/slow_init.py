"""init() waits until the file named by $SLOW_INIT_GATE exists (at most 30 s)."""

import os
import time


def init():
    gate = os.environ["SLOW_INIT_GATE"]
    deadline = time.monotonic() + 30
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)


def run(raw_data):
    return "ready"
