"""Security: auth on every route but liveness, secrets kept secret, loopback only, no header injection.

Checked with ``curl`` (a separate HTTP client, as a user would) as well as ``requests`` and raw
sockets. ``curl`` is a system package (Debian: ``curl``); without it these tests fail, loudly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from modelport import keys as keyfile
from modelport.core.webservice import AksWebservice
from modelport.deploy import records
from modelport.server.auth import make_token

from .conftest import TUTORIAL_SCORE, raw_exchange, service_tree, split_response

pytestmark = pytest.mark.process

# Every protected route and method the server serves (liveness, GET/HEAD /, is the only open one).
PROTECTED = [
    ("POST", "/score"),
    ("GET", "/score?data=1"),
    ("OPTIONS", "/score"),
    ("GET", "/health/ready"),
    ("HEAD", "/health/ready"),
    ("GET", "/swagger.json"),
    ("GET", "/swagger.json?version=3"),
    ("GET", "/metrics"),
]


ROW = json.dumps({"data": [[0.0] * 64]})  # one valid input row for the digits model


def _curl() -> str:
    path = shutil.which("curl")
    if path is None:
        pytest.fail("curl is not installed: these tests need it (Debian: apt-get install curl)")
    return path


def curl_status(url: str, method: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Status and body as curl sees them."""
    cmd = [_curl(), "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "20", "-X", method, url]
    if method == "HEAD":
        cmd[cmd.index("-X") : cmd.index("-X") + 2] = ["-I"]
    if method == "POST":
        cmd += ["--data-binary", ROW, "-H", "Content-Type: application/json"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    body, _, code = out.stdout.rpartition("\n")
    return int(code), body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(secret: str, exp: float) -> str:
    """A token as modelport signs them (``mpt1.<payload>.<HMAC-SHA256>``), with any expiry."""
    payload = _b64(json.dumps({"exp": int(exp), "iat": int(exp) - 60}).encode())
    signature = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return f"mpt1.{payload}.{signature}"


def _refused(url: str, method: str, credentials: list[str | None], what: str) -> int:
    """Assert that every credential is refused with 401 (requests and curl); how many were tried."""
    tried = 0
    for credential in credentials:
        headers = {} if credential is None else {"Authorization": credential}
        r = requests.request(method, url, headers=headers, data=ROW, timeout=20)
        assert r.status_code == 401, (what, method, url, credential, r.status_code)
        if method != "HEAD":
            assert "message" in r.json() and r.headers["www-authenticate"] == "Bearer"
        code, _ = curl_status(url, method, headers)
        assert code == 401, (what, "curl", method, url, credential, code)
        tried += 2
    return tried


def test_key_auth_refuses_every_route_but_liveness(deploy, figures: dict[str, Any]) -> None:
    service = deploy("auth-keys", TUTORIAL_SCORE, auth_enabled=True)
    base = service.scoring_uri.removesuffix("/score")
    primary, secondary = service.get_keys()
    token_secret = keyfile.read_keys(records.keys_path(service.workspace, service.name)).token_secret
    wrong = [
        None,
        "",
        "Bearer",
        "Bearer ",
        "bearer " + primary[:-1],  # a prefix of the key
        "Bearer " + primary + "x",
        "Bearer " + primary.upper() if primary.upper() != primary else "Bearer X" + primary,
        "Basic " + base64.b64encode(f"user:{primary}".encode()).decode(),
        primary,  # the key without the scheme
        "Bearer " + make_token(token_secret, 300)[0],  # a valid token, but this service uses keys
        "Bearer " + "A" * 10_000,
    ]
    tried = 0
    for method, path in PROTECTED:
        tried += _refused(f"{base}{path}", method, wrong, "keys")
        for key in (primary, secondary):
            auth = {"Authorization": f"Bearer {key}"}
            ok = requests.request(method, f"{base}{path}", headers=auth, data=ROW, timeout=20)
            # Let in. GET /score?data=1 is no input for this model: run() itself answers 500.
            assert ok.status_code == 200 or ok.headers["x-ms-run-function-failed"] == "True", (
                method,
                path,
                ok.status_code,
            )
            code, _ = curl_status(f"{base}{path}", method, auth)
            assert code == ok.status_code, (method, path, "curl", code)
    for method in ("GET", "HEAD"):  # liveness stays open, with or without credentials
        assert requests.request(method, f"{base}/", timeout=10).status_code == 200
        assert curl_status(f"{base}/", method)[0] == 200
    # The SDK authenticates itself; a regenerated key locks the old one out (the server re-reads
    # its key file at most every 0.5 s; the deadline is for a busy machine).
    assert isinstance(service.run({"data": [[0.0] * 64]}), list)
    service.regen_key("Primary")
    deadline = time.monotonic() + 30
    old = {"Authorization": f"Bearer {primary}"}
    while requests.post(service.scoring_uri, data=ROW, headers=old, timeout=30).status_code != 401:
        assert time.monotonic() < deadline, "the old primary key still works 30 s after regen_key"
        time.sleep(0.1)
    assert isinstance(service.run({"data": [[0.0] * 64]}), list)
    figures.setdefault("security", {})["auth_refusals_checked"] = tried


def test_token_auth_refuses_expired_forged_and_missing_tokens(deploy, figures: dict[str, Any]) -> None:
    config = AksWebservice.deploy_configuration(token_auth_enabled=True, auth_enabled=False)
    with pytest.warns(UserWarning, match="without deployment_target: deploying to the local"):
        service = deploy("auth-token", TUTORIAL_SCORE, deploy_config=config)
    base = service.scoring_uri.removesuffix("/score")
    secret = keyfile.read_keys(records.keys_path(service.workspace, service.name)).token_secret
    token, refresh_after = service.get_token()
    assert refresh_after > time.time()
    now = time.time()
    good_payload = token.split(".")[1]
    wrong = [
        None,
        "Bearer " + _token(secret, now - 1),  # expired a second ago
        "Bearer " + _token(secret, now - 86400),
        "Bearer " + _token("not-the-secret", now + 3600),  # forged
        "Bearer " + _token(secret, now + 3600)[:-2],  # signature cut
        "Bearer mpt1." + good_payload + "." + _b64(b"\0" * 32),  # the real payload, a wrong signature
        "Bearer mpt1." + _b64(b'{"exp": 99999999999}') + "." + token.split(".")[2],  # payload swapped
        "Bearer " + token.replace("mpt1", "mpt2", 1),
        "Bearer " + secret,  # the signing secret is not a key
    ]
    tried = 0
    for method, path in PROTECTED:
        tried += _refused(f"{base}{path}", method, wrong, "token")
        auth = {"Authorization": f"Bearer {token}"}
        r = requests.request(method, f"{base}{path}", headers=auth, data=ROW, timeout=20)
        assert r.status_code == 200 or r.headers["x-ms-run-function-failed"] == "True", (method, path)
    assert curl_status(service.scoring_uri, "POST", {"Authorization": f"Bearer {token}"})[0] == 200
    expired = requests.post(
        service.scoring_uri, headers={"Authorization": "Bearer " + _token(secret, now - 1)}, timeout=10
    )
    assert "expired" in expired.json()["message"]
    assert isinstance(service.run({"data": [[0.0] * 64]}), list)  # the SDK gets and sends a token
    figures.setdefault("security", {})["token_refusals_checked"] = tried


def test_keys_stay_secret_files_private_and_services_on_loopback(deploy, figures: dict[str, Any]) -> None:
    service = deploy("secret-svc", TUTORIAL_SCORE, auth_enabled=True, cpu_cores=2)
    ws = service.workspace
    primary, secondary = service.get_keys()
    secrets_ = [primary, secondary, keyfile.read_keys(records.keys_path(ws, service.name)).token_secret]
    # Traffic with right and wrong keys, failures included, so the log has something to leak.
    for credential in [primary, secondary, primary[:-1] + "x", secondary + "y"]:
        requests.post(
            service.scoring_uri, data=b"{}", headers={"Authorization": f"Bearer {credential}"}, timeout=10
        )
    service.run({"data": [[0.0] * 64]})
    cli = Path(sys.executable).with_name("modelport")
    shown = [
        subprocess.run(
            [str(cli), "service", command, service.name, "-w", ws.name, *extra],
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ.copy(),
            check=True,
        ).stdout
        for command, extra in (("show", []), ("show", ["--json"]), ("logs", []))
    ]
    tree = service_tree(service)
    places = {
        "serialize()": json.dumps(service.serialize()),
        "service log": service.get_logs(),
        "deployment log": service.get_logs(init=True),
        "server.json": (Path(records.load(ws, service.name).bundle_dir or "") / "local.json").read_text(),
        "service record": records.load(ws, service.name).to_json(),
        "CLI show/logs": "\n".join(shown),
        "command lines": json.dumps([p.cmdline() for p in tree]),
        "environments": json.dumps([p.environ() for p in tree]),
    }
    for where, text in places.items():
        for secret in secrets_:
            assert secret not in text, f"a key appears in {where}"
    assert re.search(r"POST /score 401 ", places["service log"])  # refused attempts are logged
    # Files: the keys file 0600, its folder and the workspace folder 0700.
    modes = {
        "keys file": stat.S_IMODE(records.keys_path(ws, service.name).stat().st_mode),
        "keys folder": stat.S_IMODE(ws.keys_dir.stat().st_mode),
        "workspace folder": stat.S_IMODE(ws.path.stat().st_mode),
    }
    assert modes == {"keys file": 0o600, "keys folder": 0o700, "workspace folder": 0o700}, modes
    # Listening sockets: every process of the service listens on 127.0.0.1 only.
    listening = sorted(
        {
            f"{c.laddr.ip}:{c.laddr.port}"
            for p in tree
            for c in p.net_connections("inet")
            if c.status == psutil.CONN_LISTEN
        }
    )
    assert listening == [f"127.0.0.1:{service.port}"], listening
    figures.setdefault("security", {}).update(
        {"secret_places_checked": len(places), "file_modes": {k: oct(v) for k, v in modes.items()}}
    )
    figures["security"]["listening"] = listening


# -- echoed and script-set headers ---------------------------------------------------------------
def _request(port: int, extra_headers: bytes, body: bytes = b"{}") -> bytes:
    return (
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + extra_headers
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )


def _assert_clean(raw: bytes, what: object) -> tuple[int, dict[str, str]]:
    """A well-formed response whose headers hold nothing the client injected."""
    assert raw, (what, "empty reply")
    status, headers, lines, body = split_response(raw)
    for line in lines[1:]:
        assert re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [\x20-\x7e\x80-\xff]*", line), (what, line)
    assert not {"set-cookie", "location", "x-injected"} & set(headers), (what, headers)
    if status >= 400:
        assert "message" in json.loads(body), (what, body[:200])
    return status, headers


INJECTIONS = [
    b"X-Request-Id: abc\r\nSet-Cookie: evil=1\r\n",  # a second header, not part of the id
    b"X-Request-Id: abc\rSet-Cookie: evil=1\r\n",  # a bare CR inside the value
    b"X-Request-Id: abc\nSet-Cookie: evil=1\r\n",  # a bare LF
    b"X-Request-Id: abc\r\n Set-Cookie: evil=1\r\n",  # obsolete line folding
    b"X-Request-Id: abc%0d%0aSet-Cookie:%20evil=1\r\n",  # percent-encoded: literal text, harmless
    b"X-Request-Id: abc\x00def\r\n",
    b"X-Request-Id: caf\xc3\xa9\r\n",
    b"X-Request-Id: \xff\xfe\r\n",
    b"X-Request-Id: " + b"a" * 101 + b"\r\n",
    b"X-Request-Id: " + b"a" * 60_000 + b"\r\n",
    b"X-Request-Id: <script>alert(1)</script>\r\n",
    b"X-Request-Id: with space\r\n",
    b"X-Request-Id:\r\n",
]


def test_echoed_request_id_is_limited_and_never_reflected_unescaped(deploy, figures: dict[str, Any]) -> None:
    service = deploy("echo-svc", "plain_echo.py")
    port = service.port
    assert port is not None
    ok_id = "a" * 100
    status, headers = _assert_clean(
        raw_exchange(port, _request(port, f"X-Request-Id: {ok_id}\r\n".encode())), "ok"
    )
    assert status == 200 and headers["x-request-id"] == ok_id
    outcomes = {}
    for attempt in INJECTIONS:
        raw = raw_exchange(port, _request(port, attempt))
        status, headers = _assert_clean(raw, attempt[:80])
        echoed = headers.get("x-request-id", "")
        assert len(echoed) <= 100 and "evil" not in echoed.replace("%20evil", ""), (attempt[:80], echoed)
        if echoed and echoed not in ("abc", "abc%0d%0aSet-Cookie:%20evil=1", "<script>alert(1)</script>"):
            uuid.UUID(echoed)  # anything else refused, with a fresh id (or none: the parser refused it)
        outcomes[attempt[:40].decode("latin-1")] = status
    # What is valid text is echoed (percent-encoding is just text); the rest is a 400 or the
    # HTTP parser's own 400, never a 5xx.
    assert all(s in (200, 400) for s in outcomes.values()), outcomes
    assert outcomes["X-Request-Id: " + "a" * 26] == 400
    assert requests.get(service.scoring_uri.removesuffix("/score") + "/", timeout=10).status_code == 200
    figures.setdefault("security", {})["header_injections_tried"] = len(INJECTIONS)


def test_run_cannot_send_a_header_that_splits_the_response(deploy) -> None:
    """A script that copies input into its response headers cannot be made to inject headers:
    the server answers run()'s own 500 naming the header instead of sending it (or nothing)."""
    service = deploy("hdr-svc", "headers_from_body.py")
    port = service.port
    assert port is not None
    bad = [
        {"X-Bad": "a\r\nSet-Cookie: evil=1"},
        {"X-Bad": "a\nX-Injected: 1"},
        {"X-Bad\r\nSet-Cookie": "evil"},
        {"X Bad": "space in the name"},
        {"X-Bad": "nul\x00byte"},
        {"X-Euro": "\u20ac not latin-1"},
        {"Content-Type": "text/html\r\nX-Injected: 1"},
    ]
    for headers in bad:
        body = json.dumps({"headers": headers}).encode()
        status, answer = _assert_clean(raw_exchange(port, _request(port, b"", body)), headers)
        assert status == 500 and answer.get("x-ms-run-function-failed") == "True", (headers, status)
    fine = {"X-Trace": "abc-123", "X-Latin": "caf\u00e9"}
    r = requests.post(service.scoring_uri, data=json.dumps({"headers": fine}), timeout=10)
    assert r.status_code == 200 and r.headers["x-trace"] == "abc-123"
