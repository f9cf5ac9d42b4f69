"""Bad input: the scoring routes fuzzed from the service's own OpenAPI and with made-up bodies.

Two deployed services: the tutorial's plain ``run(raw_data)`` script (which json-parses whatever it
gets, so garbage makes run() itself raise) and an inference-schema decorated one (the server parses
and converts the body before run()). Whatever the input: no 5xx except run()'s own 500 (marked
``x-ms-run-function-failed: True``), every error a JSON ``{"message"}``, the service still up with the
same worker processes afterwards, and its memory bounded.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from .conftest import TUTORIAL_SCORE, memory_mb, metric, workers

pytestmark = pytest.mark.process

SCRIPTS = {"plain": TUTORIAL_SCORE, "schema": "numpy_schema.py"}
SCHEMATHESIS_EXAMPLES = 100  # per operation and generation mode (positive, negative)
HYPOTHESIS_EXAMPLES = 300
MAX_MEMORY_GROWTH = 1.5
MAX_SECONDS = 5.0  # a single bad request that keeps a worker busy longer is a denial of service
SETTINGS = hypothesis.settings(
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.generate],  # no shrinking: a failure is reported as found
)


def check_reply(status: int, headers: dict[str, str], body: bytes, what: object) -> None:
    """The rules every answer to bad input follows (``headers`` by lower-case name)."""
    if status >= 500:
        assert status == 500 and headers.get("x-ms-run-function-failed") == "True", (what, status, body[:300])
    if status >= 400:
        assert headers["content-type"].startswith("application/json"), (what, headers)
        error = json.loads(body)  # v1's {"message", "code"}; the Open Inference routes' {"error"}
        assert isinstance(error.get("message", error.get("error")), str), (what, body[:300])


def still_serving(service: Any, digits_model: Any, pids: set[int]) -> None:
    """Up, answering correctly, with the very same worker processes (none crashed or was replaced)."""
    assert requests.get(service.scoring_uri.replace("/score", "/"), timeout=10).status_code == 200
    if service.name.endswith("plain"):
        assert service.run({"data": digits_model[1][:2].tolist()}) == digits_model[2][:2].tolist()
    else:
        assert service.run({"data": [[1, 2, 3, 4]]})["sum"] == 10.0
    assert {p.pid for p in workers(service)} == pids
    assert not metric(service, "modelport_worker_restarts_total")


@pytest.mark.parametrize("style", sorted(SCRIPTS))
def test_schemathesis_from_the_services_openapi(
    style: str, deploy, digits_model, figures: dict[str, Any]
) -> None:
    service = deploy(f"st-{style}", SCRIPTS[style], cpu_cores=1)
    base = service.scoring_uri.removesuffix("/score")
    pids = {p.pid for p in workers(service)}
    statuses: Counter[int] = Counter()
    cases = 0
    session = requests.Session()
    for version in ("2", "3"):
        schema = schemathesis.openapi.from_url(f"{base}/swagger.json?version={version}", timeout=10)
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path.startswith("/v2") and operation.method.upper() == "GET":
                continue  # only a model name to vary (any string is one): tests/protocols/test_v2.py
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @hypothesis.settings(SETTINGS, max_examples=SCHEMATHESIS_EXAMPLES)
                @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
                def call(case: Any) -> None:
                    nonlocal cases
                    cases += 1
                    r = case.call(base_url=base, session=session, timeout=30)
                    statuses[r.status_code] += 1
                    headers = {k.lower(): v[0] for k, v in r.headers.items()}
                    what = (case.method, case.path, case.media_type, repr(case.body)[:300])
                    check_reply(r.status_code, headers, r.content or b"", what)

                try:
                    call()
                except hypothesis.errors.Unsatisfiable:
                    # Nothing invalid to send: GET / takes no input, and the plain script's
                    # /score takes any body (its schema says so).
                    assert mode == GenerationMode.NEGATIVE
                    assert operation.path == "/" or style == "plain", operation.path
    still_serving(service, digits_model, pids)
    figures.setdefault("fuzz", {})[f"schemathesis_{style}"] = {
        "cases": cases,
        "statuses": dict(sorted(statuses.items())),
    }
    print(figures["fuzz"])
    assert cases >= SCHEMATHESIS_EXAMPLES


# -- hypothesis-made bodies -----------------------------------------------------------------------
def _nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
BAD_UTF8 = [b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80"]  # invalid byte, bad continuation, surrogate, lone
BODIES = {
    "random_bytes": st.binary(max_size=2048),
    "invalid_utf8": st.tuples(st.binary(max_size=64), st.sampled_from(BAD_UTF8))
    .map(lambda t: b'{"data": "' + t[0] + t[1] + b'"}'),
    "deep_nesting": st.integers(min_value=100, max_value=200_000).flatmap(
        lambda depth: st.sampled_from([_nested(depth), '{"data": ' + _nested(depth) + "}", '{"a":' * depth])
    ).map(str.encode),
    "huge_numbers": st.sampled_from(
        ["1e999999", "-1e400", "9" * 5000, '{"data": [[1e400, 2, 3, 4]]}',
         '{"data": [[' + "9" * 400 + ",1,2,3]]}",
         '{"data": [[-0.0, 5e-324, 1.7976931348623157e308, 4]], "scale": 1e308}']
    ).map(str.encode),
    "nan_infinity": st.sampled_from(
        ['{"data": [[NaN, Infinity, -Infinity, 1]]}', "NaN", '{"data": [[1, 2, 3, 4]], "scale": NaN}',
         '[Infinity]', '{"data": [[1,2,3,4]], "scale": -Infinity}']
    ).map(str.encode),
    "json_values": json_values.map(lambda v: json.dumps(v).encode()),
    "data_values": json_values.map(lambda v: json.dumps({"data": v}).encode()),
    "empty": st.just(b""),
    "whitespace": st.sampled_from([b" ", b"\r\n", b"\t\t", b"\x00"]),
}  # fmt: skip
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "application/vnd.api+json",
    "*/*",
    "garbage",
]


@pytest.mark.parametrize("style", sorted(SCRIPTS))
def test_hypothesis_bodies(style: str, deploy, digits_model, figures: dict[str, Any]) -> None:
    service = deploy(f"hy-{style}", SCRIPTS[style], cpu_cores=1)
    url = service.scoring_uri
    pids = {p.pid for p in workers(service)}
    session = requests.Session()
    session.post(url, data=b'{"data": [[1, 2, 3, 4]]}', timeout=10)  # warm
    before = memory_mb(service)
    tried: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    slowest = [0.0]

    @hypothesis.settings(SETTINGS, max_examples=HYPOTHESIS_EXAMPLES)
    @hypothesis.given(
        kind_and_body=st.sampled_from(sorted(BODIES)).flatmap(lambda k: st.tuples(st.just(k), BODIES[k])),
        content_type=st.sampled_from(CONTENT_TYPES),
        method=st.sampled_from(["POST", "POST", "POST", "GET"]),
    )
    def send(kind_and_body: tuple[str, bytes], content_type: str | None, method: str) -> None:
        kind, body = kind_and_body
        tried[kind] += 1
        headers = {"Content-Type": content_type} if content_type else {}
        if method == "GET":  # the body's bytes as a query string instead
            r = session.get(url, params={"data": body.decode("latin-1")[:2000]}, timeout=30)
        else:
            r = session.post(url, data=body, headers=headers, timeout=30)
        statuses[r.status_code] += 1
        slowest[0] = max(slowest[0], r.elapsed.total_seconds())
        assert r.elapsed.total_seconds() < MAX_SECONDS, (kind, r.elapsed, r.status_code, body[:200])
        headers = {k.lower(): v for k, v in r.headers.items()}
        check_reply(r.status_code, headers, r.content, (kind, method, content_type, body[:200]))

    send()
    # A body over the limit (100 MB): 413 before it is read, with Content-Length or chunked.
    big = b"[" + b"1," * (51 * 2**20) + b"1]"
    r = session.post(url, data=big, headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413 and "limit" in r.json()["message"]
    r = requests.post(url, data=(big[i : i + 2**20] for i in range(0, len(big), 2**20)), timeout=60)
    assert r.status_code == 413
    tried["over_the_limit"] += 2
    del big
    after = memory_mb(service)
    still_serving(service, digits_model, pids)
    figures.setdefault("fuzz", {})[f"hypothesis_{style}"] = {
        "cases": sum(tried.values()),
        "kinds": dict(sorted(tried.items())),
        "statuses": dict(sorted(statuses.items())),
        "slowest_ms": round(1e3 * slowest[0], 1),
        "memory_before": before,
        "memory_after": after,
    }
    print(figures["fuzz"])
    assert all(tried[kind] > 0 for kind in BODIES)
    assert after["pss_mb"] <= MAX_MEMORY_GROWTH * before["pss_mb"], (before, after)
