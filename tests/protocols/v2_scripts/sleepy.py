"""Plain run(): sleeps the seconds in its ``data`` input, then answers them."""

import json
import time


def run(raw_data):
    seconds = json.loads(raw_data)["data"][0]
    time.sleep(seconds)
    return seconds
