"""A plain script that parses its body itself and says which json.loads did it."""

import json


def init():
    pass


def run(raw_data):
    return {"loads": json.loads.__module__, "value": json.loads(raw_data)}
