"""Load: 64 concurrent keep-alive clients against a deployed service, no errors and no leak.

The CI version runs ~10 s; ``python -m bench.soak`` is the same measurement for 60 s.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from bench.soak import MAX_GROWTH, soak

from .conftest import deploy_patient, digits_body, service_tree

pytestmark = pytest.mark.process

CLIENTS = 64
SECONDS = 8.0


def test_64_clients_no_errors_and_memory_stays_flat(deploy, digits_model, figures: dict[str, Any]) -> None:
    service = deploy_patient(deploy, "load-svc")
    assert service.port is not None
    result = soak(
        service.port,
        digits_body(digits_model),
        lambda: service_tree(service),
        seconds=SECONDS,
        concurrency=CLIENTS,
        warmup_s=2.0,
        sample_every_s=2.0,
    )
    figures["load"] = result
    print(result)
    assert result["ok"] > 1000, result
    assert result["failed"] == 0, (result["errors"], result["statuses"])
    before, after = result["memory_after_warmup"]["pss_mb"], result["memory_at_end"]["pss_mb"]
    assert abs(after / before - 1) <= MAX_GROWTH, f"memory {before} MB after warm-up, {after} MB at the end"
    # The server counted exactly the replies the client received (warm-up included).
    metrics = requests.get(f"http://127.0.0.1:{service.port}/metrics", timeout=10).text
    answered = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith('modelport_requests_total{route="/score",status="200"}')
    )
    assert answered == result["warmup_requests"] + result["requests"]
    assert service.run({"data": digits_model[1][:2].tolist()}) == digits_model[2][:2].tolist()
