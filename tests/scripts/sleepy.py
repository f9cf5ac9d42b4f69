"""run() sleeps for the body's ``sleep`` seconds (scoring timeouts)."""

import json
import time


def init():
    pass


def run(raw_data):
    seconds = float(json.loads(raw_data).get("sleep", 0))
    time.sleep(seconds)
    return {"slept": seconds}
