"""``python -m bench.soak``: a deployed service under steady load, checked for errors and leaks.

Example::

    .venv/bin/python -m bench.soak                       # 60 s at 64 clients, ~70 s in all
    .venv/bin/python -m bench.soak --seconds 10 --out /tmp/soak.json

Deploys the tutorial's ``score.py`` with a LogisticRegression on scikit-learn's 8x8 digits
(``Model.deploy`` into a temporary workspace, 2 workers, 127.0.0.1 only), warms it up, then posts
one row from ``--concurrency`` keep-alive connections (``bench.aioload``) for ``--seconds``,
sampling the memory of the service's process tree (PSS: shared pages counted once) every few
seconds. Writes the figures as JSON to ``--out`` and prints them; exits 1 if any request failed or
the memory at the end is more than 20 % above the memory after warm-up. The reliability tests call
:func:`soak` for their ~10 s version.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench import aioload
from bench.procs import tree_memory

REPO = Path(__file__).resolve().parent.parent
MAX_GROWTH = 0.20
"""Memory at the end may be at most this much above the memory after warm-up."""
REQUEST_TIMEOUT_S = 10


def _memory(tree: Callable[[], list[psutil.Process]]) -> dict[str, float]:
    mem = tree_memory(tree())
    rss = mem.rss / 2**20
    return {"rss_mb": round(rss, 1), "pss_mb": round((mem.pss or mem.rss) / 2**20, 1)}


def soak(
    port: int,
    body: bytes,
    tree: Callable[[], list[psutil.Process]],
    *,
    seconds: float,
    concurrency: int = 64,
    warmup_s: float = 2.0,
    sample_every_s: float = 5.0,
) -> dict[str, Any]:
    """Warm up, then load ``POST /score`` for ``seconds``; the figures (see the module docstring).

    ``tree()`` lists the service's live processes (memory is summed over them).
    """
    warm = aioload.run(port, "/score", body, concurrency, warmup_s, REQUEST_TIMEOUT_S)
    before = _memory(tree)
    samples: list[dict[str, float]] = []
    result: list[aioload.AioResult] = []
    loader = threading.Thread(
        target=lambda: result.append(
            aioload.run(port, "/score", body, concurrency, seconds, REQUEST_TIMEOUT_S)
        ),
        daemon=True,
    )
    started = time.monotonic()
    loader.start()
    while loader.is_alive():
        loader.join(timeout=sample_every_s)
        if loader.is_alive():
            samples.append({"t_s": round(time.monotonic() - started, 1), **_memory(tree)})
    after = _memory(tree)
    if not result:
        raise RuntimeError("the load thread ended without a result")
    r = result[0]
    failed = sum(r.errors.values())
    growth = after["pss_mb"] / before["pss_mb"] - 1
    return {
        "concurrency": concurrency,
        "seconds": round(r.seconds, 2),
        "warmup_requests": warm.ok + sum(warm.errors.values()),
        "requests": r.ok + failed,
        "ok": r.ok,
        "failed": failed,
        "errors": r.errors,
        "statuses": r.statuses,
        "rps": round(r.ok / r.seconds, 1),
        "p50_ms": round(r.p50_ms, 2),
        "p99_ms": round(r.p99_ms, 2),
        "max_ms": round(r.max_ms, 2),
        "memory_after_warmup": before,
        "memory_at_end": after,
        "memory_samples": samples,
        "memory_growth_pct": round(100 * growth, 1),
        "passed": failed == 0 and r.ok > 0 and abs(growth) <= MAX_GROWTH,
    }


def _deploy(home: Path, workers: int) -> tuple[Any, bytes]:
    """Register the digits model and deploy the tutorial's score.py; the service and a request body."""
    os.environ["MODELPORT_HOME"] = str(home)
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from modelport.core.model import InferenceConfig, Model
    from modelport.core.webservice import AciWebservice
    from modelport.workspace import Workspace

    x, y = load_digits(return_X_y=True)
    model_file = home / "model" / "sklearn_mnist_model.pkl"
    model_file.parent.mkdir(parents=True)
    joblib.dump(LogisticRegression(max_iter=300).fit(x[:1200] / 16.0, y[:1200]), model_file)
    ws = Workspace.create("soak")
    model = Model.register(ws, model_file, "sklearn_mnist")
    config = InferenceConfig(str(REPO / "examples" / "mnist" / "score.py"))
    service = Model.deploy(
        ws, "soak-svc", [model], config, AciWebservice.deploy_configuration(cpu_cores=workers)
    )
    service.wait_for_deployment(timeout_sec=300)
    return service, json.dumps({"data": (x[1300:1301] / 16.0).tolist()}).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration (default 60)")
    parser.add_argument("--concurrency", type=int, default=64, help="client connections (default 64)")
    parser.add_argument("--workers", type=int, default=2, help="service worker processes (default 2)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "soak.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="modelport-soak-") as tmp:
        service, body = _deploy(Path(tmp), args.workers)
        try:
            root = psutil.Process(service.serialize()["processes"][0])

            def tree() -> list[psutil.Process]:
                return [root, *root.children(recursive=True)]

            figures = soak(service.port, body, tree, seconds=args.seconds, concurrency=args.concurrency)
        finally:
            service.delete()
    figures = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpus": os.cpu_count(),
        "workers": args.workers,
        **figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"written to {args.out}", file=sys.stderr)
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
