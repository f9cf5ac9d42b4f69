import os

VERSION = "v1"


def init():
    pass


def run(raw_data):
    return {"version": VERSION, "pid": os.getpid()}
