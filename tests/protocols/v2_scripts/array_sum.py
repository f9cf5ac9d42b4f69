"""@array_input float64 rows of 3: each row's sum (a float64 array) and the input's facts."""

from modelport.runtime import array_input


@array_input(dtype="float64", shape=(None, 3), name="data")
def run(data):
    return {"sum": data.sum(axis=1), "writeable": [bool(data.flags.writeable)]}
