"""The client boundary against a real HTTP server on a real socket (the standard library's)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from modelport.client import ServiceClient, probe_ready
from modelport.deploy.ports import free_port
from modelport.errors import (
    AuthError,
    PayloadTooLarge,
    ScriptError,
    ServiceCallError,
    ServiceUnavailable,
)

ANSWERS: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/too-big": (413, {}, b'{"message": "the request body is too large", "code": "PayloadTooLarge"}'),
    "/run-failed": (
        500,
        {"x-ms-run-function-failed": "True"},
        b'{"message": "ValueError: x", "code": "ScriptError"}',
    ),
    "/no-key": (401, {}, b'{"message": "missing key", "code": "AuthError"}'),
    "/unknown-code": (418, {}, b'{"message": "teapot", "code": "NotAClass"}'),
    "/not-json": (502, {}, b"<html>bad gateway</html>"),
    "/ok": (200, {}, b'{"echo": true}'),
}


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, headers, body = ANSWERS.get(self.path, (404, {}, b'{"message": "no route"}'))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _client(uri: str, describe: str = "is Failed: init() raised") -> ServiceClient:
    return ServiceClient("svc", uri, None, describe=lambda: describe)


@pytest.mark.parametrize(
    ("path", "cls", "status"),
    [("/too-big", PayloadTooLarge, 413), ("/run-failed", ScriptError, 500), ("/no-key", AuthError, 401)],
)
def test_a_non_200_answer_raises_the_class_the_server_named(
    server: str, path: str, cls: type, status: int
) -> None:
    with pytest.raises(cls) as info:
        _client(server + path).score({"data": [1]})
    assert isinstance(info.value, ServiceCallError)  # and it keeps v1's status and body
    assert info.value.status_code == status and json.loads(info.value.body)["code"] == cls.__name__


@pytest.mark.parametrize("path", ["/unknown-code", "/not-json"])
def test_an_unnamed_error_is_a_plain_service_call_error(server: str, path: str) -> None:
    with pytest.raises(ServiceCallError) as info:
        _client(server + path).score("{}")
    assert type(info.value) is ServiceCallError


def test_nothing_answering_names_the_state(server: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}/score"
    with pytest.raises(
        ServiceUnavailable, match=r"^service 'svc' is Failed: init\(\) raised \(nothing answered"
    ):
        _client(closed).score({"data": [1]})
    with pytest.raises(ServiceUnavailable, match="is Deleting"):
        ServiceClient("svc", None, None, describe=lambda: "is Deleting").score("{}")


def test_ok_and_probe(server: str) -> None:
    assert _client(server + "/ok").score(b"{}") == {"echo": True}
    assert probe_ready(server + "/ok") and not probe_ready(server + "/missing")
    assert not probe_ready(f"http://127.0.0.1:{free_port()}/health/ready")
