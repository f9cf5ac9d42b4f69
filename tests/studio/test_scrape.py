"""The Metrics tab's arithmetic, in process: parsing the scoring server's Prometheus text and
turning two samples into a rate, errors and latency percentiles."""

from __future__ import annotations

import pytest

from modelport.server.metrics import Metrics
from modelport.studio.scrape import History, histogram_quantile, parse, series


def _text(metrics: Metrics) -> str:
    return metrics.render().decode()


def test_two_scrapes_make_rate_errors_and_percentiles() -> None:
    metrics = Metrics()  # the scoring server's own metrics, so the names are the real ones
    metrics.observe_request("/metrics", 200, 0.001)  # the studio's scrapes: left out
    metrics.observe_request("/health/ready", 200, 0.001)  # the engine's probes: left out
    before = parse(_text(metrics), at=100.0)
    for _ in range(90):
        metrics.observe_request("/score", 200, 0.003)  # in the 0.0025-0.005 bucket
    for _ in range(10):
        metrics.observe_request("/score", 500, 0.2)  # in the 0.1-0.25 bucket
    after = parse(_text(metrics), at=110.0)
    assert before.requests == 0 and after.requests == 100 and after.errors == 10
    (point,) = series([before, after])
    assert point["rps"] == pytest.approx(10.0)
    assert point["errors"] == pytest.approx(1.0)
    assert 2.5 <= point["p50"] <= 5.0
    assert 100.0 <= point["p99"] <= 250.0


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = {0.1: 50.0, 0.2: 100.0, float("inf"): 100.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.15)
    assert histogram_quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None
    assert histogram_quantile(0.99, {0.1: 1.0, float("inf"): 10.0}) == pytest.approx(0.1)


def test_a_restarted_service_starts_a_new_count() -> None:
    metrics = Metrics()
    for _ in range(5):
        metrics.observe_request("/score", 200, 0.01)
    high = parse(_text(metrics), at=1.0)
    low = parse(_text(Metrics()), at=2.0)  # counters back at zero
    assert series([high, low]) == []


def test_history_remembers_a_failed_scrape_and_recovers() -> None:
    answers = ["not prometheus text {", _text(Metrics())]

    def fetch(name: str) -> str:
        text = answers.pop(0)
        if text.endswith("{"):
            raise ConnectionError("nothing answered")
        return text

    history = History(fetch)
    history.scrape("svc")
    assert "ConnectionError" in (history.report("svc")["error"] or "")
    history.scrape("svc")
    assert history.report("svc")["error"] is None and history.report("svc")["total_requests"] == 0
