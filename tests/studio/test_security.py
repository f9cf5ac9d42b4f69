"""The studio's guard against the real ``modelport studio`` process: every route refuses without
the token, state-changing requests need the CSRF header, foreign Origins and Hosts are refused."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from modelport.studio import create_app
from tests.server.conftest import wait_until
from tests.studio.conftest import TOKEN, StudioWorld

pytestmark = pytest.mark.process


def _routes(world: StudioWorld) -> list[tuple[str, str]]:
    """(method, path) of every route the app declares, its parameters filled with real names."""
    from starlette.routing import Mount, Route

    app: Any = create_app(world.ws, TOKEN, port=world.port).app
    out = []
    for route in app.routes:
        if isinstance(route, Mount):
            out.append(("GET", route.path + "/studio.js"))
            continue
        assert isinstance(route, Route)
        path = route.path.replace("{name}", world.healthy).replace("{version}", "1")
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                out.append((method, path))
    return out


def test_every_route_refuses_without_the_token(world: StudioWorld) -> None:
    routes = _routes(world)
    assert len(routes) >= 20 and ("DELETE", f"/api/services/{world.healthy}") in routes
    for method, path in [*routes, ("GET", "/no/such/page")]:
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789abcdef"}, {"Cookie": "x=1"}):
            resp = requests.request(
                method, world.url + path, headers=headers, timeout=30, allow_redirects=False
            )
            assert resp.status_code == 401, (method, path, headers, resp.status_code, resp.text)
            assert "studio.js" not in resp.text and "primary_key" not in resp.text
            policy = resp.headers["content-security-policy"]  # the sign-in page's is stricter still
            assert policy.startswith(("default-src 'self'", "default-src 'none'"))
            assert "'unsafe-inline'" not in policy
        # A cookie for another port's studio is no credential here either.
        other = {"Cookie": f"modelport-studio-{world.port + 1}={TOKEN}"}
        assert requests.request(method, world.url + path, headers=other, timeout=30).status_code == 401
    # The service was not touched by any of those requests.
    assert world.api("GET", f"/api/services/{world.healthy}").json()["state"] == "Healthy"


def test_the_token_url_sets_a_strict_cookie_and_leaves_the_address(world: StudioWorld) -> None:
    resp = requests.get(f"{world.url}/?token={TOKEN}", allow_redirects=False, timeout=30)
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith(f"modelport-studio-{world.port}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    session = requests.Session()
    session.get(f"{world.url}/?token={TOKEN}", timeout=30)
    page = session.get(world.url + "/", timeout=30)
    assert page.status_code == 200 and "/static/studio.js" in page.text
    assert session.get(world.url + "/api/services", timeout=30).status_code == 200


def test_state_changing_requests_need_the_csrf_header(world: StudioWorld) -> None:
    session = requests.Session()
    session.get(f"{world.url}/?token={TOKEN}", timeout=30)
    csrf = session.get(world.url + "/api/session", timeout=30).json()["csrf"]
    keys = f"{world.url}/api/services/{world.healthy}/keys"
    # What a form on another site could send with the victim's cookie: refused.
    no_header = session.post(keys, timeout=30)
    assert no_header.status_code == 403 and "X-Studio-CSRF" in no_header.json()["message"]
    assert session.post(keys, headers={"X-Studio-CSRF": csrf[:-1] + "x"}, timeout=30).status_code == 403
    foreign = session.post(keys, headers={"X-Studio-CSRF": csrf, "Origin": "http://evil.example"}, timeout=30)
    assert foreign.status_code == 403 and "cross-origin" in foreign.json()["message"]
    # A delete without the header leaves the service alone.
    assert session.delete(f"{world.url}/api/services/{world.healthy}", timeout=30).status_code == 403
    assert world.api("GET", f"/api/services/{world.healthy}").status_code == 200
    # The studio's own page sends it: the keys come back in clear only then.
    ok = session.post(keys, headers={"X-Studio-CSRF": csrf, "Origin": world.url}, timeout=30)
    assert ok.status_code == 200 and ok.json()["revealed"] is True
    assert len(ok.json()["keys"]["primary_key"]) >= 32


def test_keys_are_masked_until_asked_for(world: StudioWorld) -> None:
    consume = world.api("GET", f"/api/services/{world.healthy}/consume").json()
    from modelport import keys as keyfile
    from modelport.deploy.records import keys_path

    real = keyfile.read_keys(keys_path(world.ws, world.healthy))["primary_key"]
    assert real not in str(consume)
    assert consume["keys"]["primary_key"] == "•" * 12 and consume["revealed"] is False
    assert "<key>" in consume["snippets"]["curl"]


def test_a_foreign_host_header_is_refused(world: StudioWorld) -> None:
    # DNS rebinding: a page of evil.example resolving to 127.0.0.1 sends Host: evil.example.
    resp = requests.get(
        world.url + "/api/services",
        headers={"Authorization": f"Bearer {TOKEN}", "Host": f"evil.example:{world.port}"},
        timeout=30,
    )
    assert resp.status_code == 403
    assert world.api("GET", "/api/services", headers={"Host": f"localhost:{world.port}"}).status_code == 200


def test_api_errors_are_one_line_json(world: StudioWorld) -> None:
    missing = world.api("GET", "/api/services/no-such-svc")
    assert missing.status_code == 404 and missing.json()["code"] == "ServiceNotFound"
    bad = world.api("POST", "/api/models/%3Cimg%20src%3Dx%3E?filename=m.pkl", data=b"x")
    assert bad.status_code == 400 and "invalid model name" in bad.json()["message"]
    assert re.fullmatch(r"[^\n]+", bad.json()["message"])


def test_regenerated_key_takes_effect_and_the_old_one_is_refused(world: StudioWorld) -> None:
    from modelport import keys as keyfile
    from modelport.deploy import records
    from modelport.deploy.records import keys_path

    record = records.load(world.ws, world.healthy)
    old = keyfile.read_keys(keys_path(world.ws, world.healthy))["secondary_key"]
    body = '{"data": [[' + ",".join(["0"] * 784) + "]]}"

    def status(key: str) -> int:
        return requests.post(
            str(record.scoring_uri), data=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ).status_code

    assert status(old) == 200
    resp = world.api("POST", f"/api/services/{world.healthy}/keys/regenerate", json={"key": "secondary"})
    assert resp.status_code == 200 and resp.json() == {"regenerated": "secondary"}
    new = world.api("POST", f"/api/services/{world.healthy}/keys").json()["keys"]["secondary_key"]
    assert new != old
    # The server re-reads its key file when it changes (checked at most every 0.5 s).
    wait_until(lambda: status(new) == 200, 60, "the service to accept the new key")
    assert status(old) == 401
    wrong = world.api("POST", f"/api/services/{world.healthy}/keys/regenerate", json={"key": "tertiary"})
    assert wrong.status_code == 400 and "Primary" in wrong.json()["message"]
    token = world.api("POST", f"/api/services/{world.healthy}/token")
    assert token.status_code == 400 and "does not use token auth" in token.json()["message"]


def test_the_command_refuses_a_busy_port_in_one_line(world: StudioWorld) -> None:
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelport.cli",
            "studio",
            "-w",
            "studiows",
            "--port",
            str(world.port),
            "--no-browser",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MODELPORT_HOME": str(world.home)},
    )
    assert done.returncode == 1
    assert (
        done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{world.port}") and "--port" in done.stderr
    )
    assert "Traceback" not in done.stderr
