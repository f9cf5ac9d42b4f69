"""The studio in a new browser without its token: a sign-in page instead of a bare 401."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.studio.conftest import TOKEN, StudioWorld, shots_dir

pytestmark = pytest.mark.process


@pytest.fixture
def stranger(browser: Any, world: StudioWorld) -> Any:
    """A browser context that never saw the token's URL (no cookie)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_a_browser_without_the_token_gets_a_page_that_lets_it_in(
    stranger: Any, world: StudioWorld, tmp_path: Path
) -> None:
    logged_before = world.log.read_text() if world.log else ""
    response = stranger.goto(f"{world.url}/#/services/{world.healthy}")
    assert response is not None and response.status == 401
    text = stranger.inner_text("body")
    assert "modelport studio" in text and "?token=" in text and f"127.0.0.1:{world.port}" in text
    assert stranger.locator("input#token[type=password]").count() == 1
    assert TOKEN not in stranger.content()
    path = shots_dir(tmp_path) / "signin.png"
    stranger.screenshot(path=str(path), full_page=True)

    # A wrong token: the page again, saying so, and still no way in.
    stranger.fill("#token", "not-the-token-0123456789abcdef")
    with stranger.expect_navigation():
        stranger.click("button[type=submit]")
    assert "not this studio's token" in stranger.inner_text("body")
    assert not stranger.context.cookies()

    # The right one (pasted with the spaces a copy may bring): the studio, with its cookie.
    stranger.fill("#token", f"  {TOKEN} ")
    with stranger.expect_navigation():
        stranger.click("button[type=submit]")
    stranger.wait_for_selector("#workspace:has-text('studiows')")
    cookie = next(c for c in stranger.context.cookies() if c["name"] == f"modelport-studio-{world.port}")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "token" not in stranger.url
    stranger.goto(f"{world.url}/#/services/{world.healthy}")
    drawn = f'main[data-route="#/services/{world.healthy}"][aria-busy="false"]'
    stranger.wait_for_selector(drawn, state="attached")
    assert stranger.inner_text("#service-state") == "Healthy"
    # The token went into no log line: the studio's output holds it once, in the URL it printed.
    if world.log is not None:
        logged = world.log.read_text()
        assert logged.count(TOKEN) == logged_before.count(TOKEN) == 1


def test_the_sign_in_form_refuses_other_sites_and_large_bodies(world: StudioWorld) -> None:
    form = {"token": TOKEN}
    foreign = requests.post(
        world.url + "/login", data=form, headers={"Origin": "http://evil.example"}, timeout=30
    )
    assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
    huge = requests.post(world.url + "/login", data={"token": "x" * 10_000}, timeout=30)
    assert huge.status_code == 413 and "set-cookie" not in huge.headers
    ok = requests.post(world.url + "/login", data=form, allow_redirects=False, timeout=30)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert ok.headers["set-cookie"].startswith(f"modelport-studio-{world.port}={TOKEN};")
    # The page itself runs no script: its policy allows only its own inline style, by hash.
    page = requests.get(world.url + "/", timeout=30)
    policy = page.headers["content-security-policy"]
    assert page.status_code == 401 and "script-src" not in policy and "default-src 'none'" in policy
    assert "'unsafe-inline'" not in policy and "<script" not in page.text
