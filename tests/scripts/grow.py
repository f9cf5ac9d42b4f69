import os

hoard = []


def init():
    pass


def run(raw_data):
    # Keep 64 MB more per call: a leak the memory limit must catch.
    hoard.append(bytearray(64 * 1024 * 1024))
    for chunk in hoard:
        chunk[::4096] = b"x" * len(chunk[::4096])
    return {"pid": os.getpid(), "held_mb": 64 * len(hoard)}
