def init():
    raise RuntimeError("cannot open the model: disk on fire")


def run(raw_data):
    return raw_data
