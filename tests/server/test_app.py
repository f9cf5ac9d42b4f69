"""The ASGI app in process: routes, input styles, errors, headers, auth, limits, swagger, metrics."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from modelport.server.auth import make_token
from tests.fixtures import script, wait_until


def test_liveness_and_common_headers(make_app) -> None:
    app = make_app("plain_echo.py")
    r = app.client.get("/")
    assert r.status_code == 200
    assert r.text == "Healthy"
    assert r.headers["x-ms-server-version"].startswith("modelport/")
    uuid.UUID(r.headers["x-request-id"])
    uuid.UUID(r.headers["x-ms-request-id"])
    head = app.client.head("/")
    assert head.status_code == 200 and head.content == b""
    assert app.client.head("/score").status_code == 405


def test_readiness_waits_for_init_and_score_waits_too(make_app, tmp_path: Path, monkeypatch) -> None:
    gate = tmp_path / "gate"
    monkeypatch.setenv("SLOW_INIT_GATE", str(gate))
    app = make_app("slow_init.py", wait=False)
    r = app.client.get("/health/ready")
    assert r.status_code == 503
    assert "init()" in r.json()["message"]
    assert app.client.get("/").status_code == 200  # liveness answers while init() runs
    gate.touch()
    wait_until(lambda: app.client.get("/health/ready").status_code == 200, 60, "readiness")
    assert app.client.post("/score", content=b"{}").json() == "ready"


def test_plain_run_gets_the_body_as_str(make_app) -> None:
    app = make_app("plain_echo.py")
    r = app.client.post("/score", content=b'{"a": [1, 2]}', headers={"content-type": "text/plain"})
    assert r.status_code == 200
    assert r.json() == {"echo": {"a": [1, 2]}, "type": "str"}
    assert r.headers["content-type"] == "application/json"
    assert float(r.headers["x-ms-run-fn-exec-ms"]) >= 0
    timing = r.headers["server-timing"]
    assert "parse;dur=" in timing and "run;dur=" in timing and "serialize;dur=" in timing


def test_get_query_becomes_a_json_object_and_options_is_empty(make_app) -> None:
    app = make_app("plain_echo.py")
    r = app.client.get("/score?x=1&x=2&name=a%20b")
    assert r.json() == {"echo": {"x": ["1", "2"], "name": "a b"}, "type": "str"}
    r = app.client.options("/score")
    assert r.status_code == 200
    assert r.content == b""


def test_undecodable_body_is_400(make_app) -> None:
    app = make_app("plain_echo.py")
    r = app.client.post("/score", content=b'{"a": "\xff\xfe"}')
    assert r.status_code == 400
    assert "UTF-8" in r.json()["message"]


def test_numpy_schema_script_receives_an_ndarray(make_app) -> None:
    app = make_app("numpy_schema.py")
    r = app.client.post("/score", json={"data": [[1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"type": "ndarray", "shape": [2, 4], "sum": 14.0}
    r = app.client.post("/score", json={"data": [[1.0, 2.0, 3.0, 4.0]], "scale": 2})
    assert r.json()["sum"] == 20.0


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b'{"data": [[1, 2, 3, 4]]}', "text/csv", 415, ["application/json", "text/csv"]),
        (b'{"scale": 2.0}', "application/json", 400, ["missing parameter", "'data'"]),
        (b"[[1, 2, 3, 4]]", "application/json", 400, ["object", "data", "array"]),
        (b"{not json", "application/json", 400, ["not valid JSON"]),
        (b'{"data": [[1, 2]]}', "application/json", 400, ["'data'", "dimension"]),
        (b'{"data": [[1, 2, 3, 4]], "extra": 1}', "application/json", 400, ["unexpected parameter", "extra"]),
    ],
)
def test_numpy_schema_script_refuses_bad_input(make_app, body, content_type, status, words) -> None:
    app = make_app("numpy_schema.py")
    r = app.client.post("/score", content=body, headers={"content-type": content_type})
    assert r.status_code == status, r.text
    message = r.json()["message"]
    for word in words:
        assert word in message
    assert "x-ms-run-function-failed" not in r.headers


def test_rawhttp_script_chooses_status_and_headers(make_app) -> None:
    app = make_app("rawhttp_script.py")
    r = app.client.post("/score", content=b"hi", headers={"X-Teapot": "1"})
    assert r.status_code == 418
    assert r.headers["x-custom"] == "teapot"
    assert r.text == "short and stout"
    r = app.client.post("/score", json={"k": 1})
    assert r.status_code == 201
    assert r.json() == {"json": {"k": 1}, "text": '{"k":1}', "method": "POST"}
    assert r.headers["content-type"] == "application/json"
    r = app.client.get("/score?a=1&b=2")
    assert r.json() == {"args": {"a": "1", "b": "2"}, "full_path": "/score?a=1&b=2"}


def test_request_headers_parameter(make_app) -> None:
    app = make_app("headers_script.py")
    r = app.client.post("/score", content=b"[1]", headers={"X-Trace": "abc"})
    body = r.json()
    assert body["data"] == [1]
    assert body["trace"] == "abc"
    assert body["all"]["X-Trace"] == "abc"


def test_run_raising_is_500_and_the_next_request_works(make_app, caplog) -> None:
    app = make_app("plain_echo.py")
    with caplog.at_level(logging.ERROR, logger="modelport.server"):
        r = app.client.post("/score", content=json.dumps({"raise": "bad pixel"}))
    assert r.status_code == 500
    assert r.json() == {"message": "ValueError: bad pixel", "code": "ScriptError"}
    assert r.headers["x-ms-run-function-failed"] == "True"
    assert "Traceback" in caplog.text and "plain_echo.py" in caplog.text
    assert app.client.post("/score", content=b"{}").status_code == 200


def test_debug_mode_puts_the_traceback_in_the_body(make_app) -> None:
    app = make_app("plain_echo.py", debug=True)
    r = app.client.post("/score", content=json.dumps({"raise": "x"}))
    assert r.status_code == 500
    assert "plain_echo.py" in r.json()["traceback"]


def test_numpy_return_values_serialize(make_app) -> None:
    app = make_app("numpy_out.py")
    r = app.client.post("/score", content=b"{}")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "array": [[0, 1, 2], [3, 4, 5]],
        "scalar": 7,
        "f": 0.5,
        "bool": True,
        "strided": [0, 2, 4, 6, 8],
    }


def test_unknown_route_404_and_wrong_method_405_are_json(make_app) -> None:
    app = make_app("plain_echo.py")
    r = app.client.get("/nope")
    assert r.status_code == 404
    assert "/nope" in r.json()["message"]
    r = app.client.delete("/score")
    assert r.status_code == 405
    assert "DELETE" in r.json()["message"]
    assert r.headers["allow"] == "POST, GET, OPTIONS"
    assert app.client.post("/").status_code == 405


def test_request_id_is_echoed_or_refused(make_app) -> None:
    app = make_app("plain_echo.py")
    r = app.client.post("/score", content=b"{}", headers={"x-request-id": "my-id-42"})
    assert r.headers["x-request-id"] == "my-id-42"
    assert r.headers["x-ms-request-id"] != "my-id-42"
    r = app.client.post("/score", content=b"{}", headers={"x-request-id": "x" * 101})
    assert r.status_code == 400
    assert "longer than 100" in r.json()["message"]
    r = app.client.post("/score", content=b"{}", headers={"x-request-id": "has space"})
    assert r.status_code == 400
    assert app.client.post("/score", content=b"{}", headers={"x-request-id": "x" * 100}).status_code == 200


def test_body_over_the_limit_is_413_by_length_or_while_streaming(make_app) -> None:
    app = make_app("plain_echo.py", max_body_mb=0.01)  # 10 KiB
    assert app.client.post("/score", content=b'"' + b"a" * 10_000 + b'"').status_code == 200
    r = app.client.post("/score", content=b"a" * 20_000)
    assert r.status_code == 413
    assert "limit" in r.json()["message"]

    def chunks():
        for _ in range(40):
            yield b"a" * 1000

    r = app.client.post("/score", content=chunks())  # no Content-Length: chunked
    assert r.status_code == 413


def test_timeout_is_504_and_the_worker_asks_to_be_replaced(make_app) -> None:
    app = make_app("plain_echo.py", scoring_timeout_ms=200)
    r = app.client.post("/score", content=json.dumps({"sleep": 2}))
    assert r.status_code == 504
    assert "200 ms" in r.json()["message"]
    assert app.exits == [(0, "scoring timeout")]
    r = app.client.post("/score", content=b"{}")  # this worker no longer takes requests
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert app.client.get("/health/ready").status_code == 503


def test_init_failure_asks_to_stop_the_service(make_app) -> None:
    app = make_app("init_fails.py")
    assert app.exits and app.exits[0][0] == 3
    assert "model file is corrupt" in app.exits[0][1]
    r = app.client.get("/health/ready")
    assert r.status_code == 503


def test_worker_over_its_memory_limit_is_recycled(make_app, caplog) -> None:
    app = make_app("plain_echo.py", max_worker_memory_mb=1)
    with caplog.at_level(logging.WARNING, logger="modelport.server"):
        r = app.client.post("/score", content=b"{}")
    assert r.status_code == 200  # the request in hand finishes
    assert app.exits == [(0, "memory limit")]
    assert "recycled: rss" in caplog.text and "> limit 1 MB" in caplog.text


def _keys(path: Path, primary: str, secondary: str, secret: str = "s3") -> None:
    path.write_text(json.dumps({"primary_key": primary, "secondary_key": secondary, "token_secret": secret}))


def test_key_auth(make_app, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    _keys(keys, "primary-1", "secondary-1")
    app = make_app("plain_echo.py", keys_file=str(keys))
    c = app.client
    assert c.get("/").status_code == 200  # liveness stays open
    r = c.post("/score", content=b"{}")
    assert r.status_code == 401
    assert "Authorization" in r.json()["message"]
    assert c.post("/score", content=b"{}", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.post("/score", content=b"{}", headers={"Authorization": "primary-1"}).status_code == 401
    assert c.post("/score", content=b"{}", headers={"Authorization": "Bearer primary-1"}).status_code == 200
    assert c.post("/score", content=b"{}", headers={"Authorization": "Bearer secondary-1"}).status_code == 200
    for path in ("/health/ready", "/swagger.json", "/metrics"):
        assert c.get(path).status_code == 401, path
        assert c.get(path, headers={"Authorization": "Bearer primary-1"}).status_code == 200, path


def test_regenerated_key_takes_effect_without_restart(make_app, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    _keys(keys, "old-primary", "secondary")
    app = make_app("plain_echo.py", keys_file=str(keys))

    def status(key: str) -> int:
        return app.client.post(
            "/score", content=b"{}", headers={"Authorization": f"Bearer {key}"}
        ).status_code

    assert status("old-primary") == 200
    _keys(keys, "new-primary", "secondary")
    wait_until(lambda: status("new-primary") == 200, 30, "the new key to be accepted")
    assert status("old-primary") == 401
    assert status("secondary") == 200


def test_token_auth_and_expiry(make_app, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    _keys(keys, "", "", secret="token-secret")
    app = make_app("plain_echo.py", keys_file=str(keys), token_auth=True)
    token, _ = make_token("token-secret", 3600)
    ok = app.client.post("/score", content=b"{}", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    forged, _ = make_token("other-secret", 3600)
    assert (
        app.client.post("/score", content=b"{}", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert (
        app.client.post("/score", content=b"{}", headers={"Authorization": f"Bearer {tampered}"}).status_code
        == 401
    )


def test_expired_token_is_refused() -> None:
    import time

    from modelport.errors import AuthError
    from modelport.server.auth import verify_token

    token, refresh_after = make_token("s", 10)
    assert time.time() < refresh_after < time.time() + 10
    verify_token("s", token)
    with pytest.raises(AuthError, match="expired"):
        verify_token("s", token, now=time.time() + 11)


@pytest.mark.parametrize("version", ["2", "3", "3.1"])
def test_swagger_is_valid_openapi_from_the_schema(make_app, version: str) -> None:
    app = make_app("numpy_schema.py")
    r = app.client.get(f"/swagger.json?version={version}")
    assert r.status_code == 200, r.text
    doc = r.json()
    validate(doc)
    schemas = doc["definitions"] if version == "2" else doc["components"]["schemas"]
    assert schemas["ServiceInput"]["properties"]["data"]["format"] == "numpy.ndarray"
    assert schemas["ServiceInput"]["example"]["data"] == [[0.1, 1.2, 2.3, 3.4]]
    assert "sum" in schemas["ServiceOutput"]["example"]


def test_swagger_for_a_plain_script_and_a_hand_written_file(make_app, tmp_path: Path) -> None:
    app = make_app("plain_echo.py")
    validate(app.client.get("/swagger.json").json())
    assert app.client.get("/swagger.json?version=9").status_code == 400
    root = tmp_path / "approot"
    root.mkdir()
    (root / "swagger.json").write_text('{"swagger": "2.0", "info": {"title": "mine"}}')
    app = make_app("plain_echo.py", app_root=str(root))
    assert app.client.get("/swagger.json").json()["info"]["title"] == "mine"


def test_metrics_count_requests_by_status(make_app) -> None:
    app = make_app("plain_echo.py")
    for _ in range(3):
        app.client.post("/score", content=b"{}")
    app.client.post("/score", content=json.dumps({"raise": "x"}))
    text = app.client.get("/metrics").text
    assert 'modelport_requests_total{route="/score",status="200"} 3.0' in text
    assert 'modelport_requests_total{route="/score",status="500"} 1.0' in text
    assert "modelport_run_duration_seconds_count 4.0" in text
    assert 'modelport_request_duration_seconds_bucket{le="+Inf",route="/score"} 4.0' in text
    assert "modelport_requests_in_flight 1.0" in text  # this very request
    assert "modelport_worker_restarts_total 0.0" in text


def test_scripts_folder_is_found(tmp_path: Path) -> None:
    assert script("plain_echo.py").is_file()


def test_every_error_body_names_its_error_class(make_app, tmp_path: Path) -> None:
    app = make_app("plain_echo.py", max_body_mb=0.01, scoring_timeout_ms=200)
    assert app.client.get("/nope").json()["code"] == "NotFoundError"
    assert app.client.delete("/score").json()["code"] == "MethodNotAllowed"
    assert app.client.post("/score", content=b"x" * 20_000).json()["code"] == "PayloadTooLarge"
    assert app.client.post("/score", content=b"\xff").json()["code"] == "InvalidInputError"
    r = app.client.post("/score", content=json.dumps({"raise": "x"}))
    assert r.json()["code"] == "ScriptError" and r.headers["x-ms-run-function-failed"] == "True"
    assert app.client.post("/score", content=json.dumps({"sleep": 2})).json()["code"] == "ScoringTimeout"
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"primary_key": "k1", "secondary_key": "k2"}))
    secured = make_app("plain_echo.py", keys_file=str(keys))
    assert secured.client.post("/score", content="{}").json()["code"] == "AuthError"


def test_swagger_advertises_the_scheme_served(make_app) -> None:
    doc = make_app("plain_echo.py").client.get("/swagger.json").json()
    assert doc["schemes"] == ["http"]


def test_the_routes_say_which_bodies_are_taken_whole_and_which_requests_are_traced(make_app) -> None:
    """The connection hands a body over whole, and the app traces a request, because its route
    says so (Route.whole_body, Route.scoring), not because of how its path is spelled."""
    router = make_app("plain_echo.py").app.router
    for path in ("/score", "/v2/models/plain/infer", "/v2/models/plain/versions/1/infer"):
        assert router.whole_body(path), path
    others = ("/", "/swagger.json", "/v2/health/ready", "/v2/models/plain", "/v2/models/x/infer/", "/nope")
    for path in others:
        assert not router.whole_body(path), path
    scoring = sorted(route.path for route, _ in [*router.exact.values(), *router.patterns] if route.scoring)
    assert scoring == ["/score", "/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"]
