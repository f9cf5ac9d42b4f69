"""An @array_input script declaring uint8 images of any count: returns what it was given."""

from modelport.runtime import array_input


def init():
    pass


@array_input(dtype="uint8", shape=(None, 2, 2))
def run(data, request_headers):
    return {
        "dtype": str(data.dtype),
        "shape": list(data.shape),
        "sum": int(data.sum()),
        "writeable": bool(data.flags.writeable),
        "content_type": request_headers.get("Content-Type"),
    }
