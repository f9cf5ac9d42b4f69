"""The in-process floor: what the tutorial's ``run()`` costs on the big body with no server at all."""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.servers import SCORE_SCRIPT


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_floor(model_path: Path, body: bytes, repeats: int = 3) -> dict[str, Any]:
    """Median seconds of ``run(body)`` and of its steps: parse, ``np.array``, ``predict``, encode."""
    os.environ["AZUREML_MODEL_DIR"] = str(model_path.parent)
    spec = importlib.util.spec_from_file_location("bench_floor_score", SCORE_SCRIPT)
    assert spec is not None and spec.loader is not None
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    score.init()
    text = body.decode()
    parsed = json.loads(text)
    data = np.array(parsed["data"])
    predicted = score.model.predict(data)
    floor: dict[str, Any] = {
        "run_s": _median_s(lambda: json.dumps(score.run(text)), repeats),
        "json_loads_s": _median_s(lambda: json.loads(text), repeats),
        "np_array_s": _median_s(lambda: np.array(parsed["data"]), repeats),
        "predict_s": _median_s(lambda: score.model.predict(data), repeats),
        "predict_one_row_ms": _median_s(lambda: score.model.predict(data[:1]), 50) * 1e3,
        "encode_s": _median_s(lambda: json.dumps(predicted.tolist()), repeats),
    }
    try:
        import orjson

        floor["orjson_loads_s"] = _median_s(lambda: orjson.loads(body), repeats)
    except ImportError:
        pass
    floor.update(_modelport_floor(score.model, text, body, data, repeats))
    return floor


def _modelport_floor(model: Any, text: str, body: bytes, data: np.ndarray, repeats: int) -> dict[str, Any]:
    """The same steps as modelport's typed and npy paths take them, without a server."""
    import io

    from modelport.runtime import arrays, fastjson, json_arrays, npy_arrays

    spec = arrays.ArraySpec("data", np.dtype("float64"), (None, 784))
    out = io.BytesIO()
    np.save(out, data, allow_pickle=False)
    npy = out.getvalue()
    return {
        "fast_json_loads_s": _median_s(lambda: fastjson.loads(text), repeats),
        "typed_parse_s": _median_s(lambda: json_arrays.parse_json_array(body, spec), repeats),
        "typed_parse_predict_s": _median_s(
            lambda: model.predict(json_arrays.parse_json_array(body, spec)), repeats
        ),
        "npy_parse_s": _median_s(lambda: npy_arrays.parse_npy(npy, spec), repeats),
        "npy_parse_predict_s": _median_s(lambda: model.predict(npy_arrays.parse_npy(npy, spec)), repeats),
    }
