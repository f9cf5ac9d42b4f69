"""What the service pages say, checked in the browser: configuration values in effect, package
lists that wrap between names, the Test tab's prefill and what it says about auth, the link to the
service's API page, and the latency chart's unit."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures import wait_until
from tests.studio.conftest import Tab
from tests.studio.test_browser import shot

pytestmark = pytest.mark.process

# Each named text's line boxes: a name that the layout broke across lines has two or more.
_LINES_OF = """(root, names) => {
  const found = {};
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const name of names) {
      const at = node.data.indexOf(name);
      if (at < 0 || name in found) continue;
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + name.length);
      const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      found[name] = tops.size;
    }
  }
  return found;
}"""


def _configuration(page: Any) -> dict[str, str]:
    card = page.locator(".card:has(h2:text-is('Configuration')) dl.kv")
    keys = card.locator("dt").all_inner_texts()
    return dict(zip(keys, card.locator("dd").all_inner_texts(), strict=True))


def test_details_show_the_port_and_body_limit_in_effect(tab: Tab) -> None:
    from modelport.deploy import records

    record = records.load(tab.world.ws, tab.world.healthy)
    page = tab.open(f"#/services/{tab.world.healthy}/details")
    config = _configuration(page)
    # Neither was given at deployment; both are in effect: the port the target picked, and the
    # server's default body limit.
    assert config["port"] == f"{record.port} (picked)"
    assert config["max_body_mb"] == "100.0 (default)"
    assert config["max_request_wait_ms"] == "500 (default)" and config["workers"] == "1"
    assert config["memory_gb"] == "1" and config["cpu_cores"] == "1"
    assert "—" not in config.values(), config


def test_package_lists_wrap_between_names_not_inside_them(tab: Tab) -> None:
    from modelport.deploy import records
    from modelport.environments import EnvSpec

    ws, name = tab.world.ws, tab.world.healthy
    names = [
        "scikit-learn==1.5.2",
        "azureml-defaults==1.60.0",
        "inference-schema[numpy-support]==1.8",
        "joblib==1.4.2",
        "numpy==1.26.4",
        "opencensus-ext-azure==1.1.13",
    ]
    before = records.load(ws, name).spec
    spec = {"name": "wrapping-env", "version": "1", "python_version": "3.11", "pip_packages": names}
    with records.changing(ws, name) as record:
        record.spec = dataclasses.replace(record.spec, environment=EnvSpec.from_dict(spec))
    try:
        tab.page.set_viewport_size({"width": 800, "height": 800})
        page = tab.open(f"#/services/{name}/details")
        card = page.locator(".card:has(h2:text-is('Environment'))")
        assert all(n in card.inner_text() for n in names)
        lines = card.evaluate(_LINES_OF, names)
        assert lines == dict.fromkeys(names, 1), lines
        # The list does wrap (the card is narrower than the packages in a row).
        assert card.locator("dd:right-of(dt:text-is('pip packages'))").first.evaluate(
            "dd => dd.getClientRects()[0].height > 2 * parseFloat(getComputedStyle(dd).fontSize)"
        )
    finally:
        with records.changing(ws, name) as record:
            record.spec = before


def test_environments_page_keeps_package_names_whole(tab: Tab) -> None:
    from modelport.core.conda_dependencies import CondaDependencies
    from modelport.core.environment import Environment

    names = [f"package-with-a-long-name-{i}==1.{i}.0" for i in range(8)]
    env = Environment("long-names-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=names, python_version="3.11")
    env.register(tab.world.ws)
    tab.page.set_viewport_size({"width": 800, "height": 800})
    page = tab.open("#/environments")
    lines = page.locator("tr[data-environment='long-names-env:1']").evaluate(_LINES_OF, names)
    assert lines == dict.fromkeys(names, 1), lines


def test_test_tab_prefills_nothing_it_cannot_stand_behind(tab: Tab) -> None:
    # The tutorial's service declares no input: no made-up body ({"data": []} answered 500).
    page = tab.open(f"#/services/{tab.world.healthy}/test")
    assert page.input_value("#test-body") == ""
    assert "one row" in (page.get_attribute("#test-body", "placeholder") or "")
    assert page.is_disabled("#send")
    note = page.inner_text("#test-note")
    assert "declares no input example" in note and "sample" in note and "primary key" in note
    # A body written by hand enables Send, and goes out with the service's key.
    page.fill("#test-body", json.dumps({"data": tab.world.digits.test_x[:1].round(4).tolist()}))
    assert page.is_enabled("#send")
    page.click("#send")
    page.wait_for_selector("#test-status")
    assert page.inner_text("#test-status") == "200"


def test_test_tab_says_how_each_service_is_called(tab: Tab) -> None:
    page = tab.open(f"#/services/{tab.world.tokened}/test")
    note = page.locator("#pane p").first.inner_text()
    assert "fresh token" in note and "service's key" not in note
    page = tab.open(f"#/services/{tab.world.sampled}/test")
    note = page.locator("#pane p").first.inner_text()
    assert "needs no key" in note and "service's key" not in note


def test_test_tab_prefills_the_sample_input_given_at_deployment(tab: Tab, tmp_path: Path) -> None:
    digits = tab.world.digits
    page = tab.open(f"#/services/{tab.world.sampled}/test")
    assert json.loads(page.input_value("#test-body")) == {"data": digits.test_x[:1].round(4).tolist()}
    assert "sample input given at deployment" in page.inner_text("#test-note")
    page.wait_for_selector("#digit-canvas")  # 784 inputs: the canvas comes with it
    page.click("#send")
    page.wait_for_selector("#test-status")
    assert page.inner_text("#test-status") == "200"
    assert json.loads(page.inner_text("#test-response")) == digits.expected[:1].tolist()
    shot(tab, "service-test-sample", tmp_path)


def test_details_and_consume_link_the_service_api_page(tab: Tab) -> None:
    from modelport.deploy import records

    for name in (tab.world.healthy, tab.world.sampled):
        expected = str(records.load(tab.world.ws, name).scoring_uri).replace("/score", "/swagger")
        for fragment in ("details", "consume"):
            page = tab.open(f"#/services/{name}/{fragment}")
            link = page.locator("a#api-page")
            assert link.get_attribute("href") == expected and link.get_attribute("target") == "_blank"
            assert "noopener" in (link.get_attribute("rel") or "")
        answer = requests.get(expected, timeout=30)
        assert answer.status_code == 200 and "swagger-ui" in answer.text
    # Opened from the studio (here the service without auth, whose document loads without a key):
    # Swagger UI with the service's example body.
    with tab.page.context.expect_page() as opened:
        tab.page.click("a#api-page")
    api = opened.value
    api.wait_for_selector("#swagger-ui .info", timeout=60_000)
    assert api.url == expected and tab.world.sampled in api.inner_text("#swagger-ui .info")
    api.close()


def test_latency_chart_states_its_unit(tab: Tab) -> None:
    from modelport.deploy import records

    record = records.load(tab.world.ws, tab.world.sampled)
    page = tab.open(f"#/services/{tab.world.sampled}/metrics")
    body = json.dumps({"data": tab.world.digits.test_x[:1].tolist()})
    with requests.Session() as s:
        for _ in range(5):
            assert s.post(str(record.scoring_uri), data=body, timeout=30).status_code == 200
    latency = page.locator(".card:has(svg[aria-label^='Latency'])")
    wait_until(lambda: latency.locator("polyline").count() >= 1, 90, "a latency line")
    assert latency.locator("h2").inner_text() == "Latency (ms)"
    assert (latency.locator("svg text.y-max").text_content() or "").endswith(" ms")


def test_details_show_v1_keywords_and_where_they_act(tab: Tab) -> None:
    """v1's keywords a deployment set (issue 22, part 3) are on the Details tab, with the one
    line saying which act nowhere here; a service that set none has no such card."""
    from modelport.deploy import records

    page = tab.open(f"#/services/{tab.world.healthy}/details")
    assert page.locator("#card-keywords").count() == 0
    record = records.load(tab.world.ws, tab.world.healthy)
    asked = record.spec.settings
    record.spec = dataclasses.replace(
        record.spec,
        settings=dataclasses.replace(
            asked, location="westeurope", namespace="scoring-prod", period_seconds=5
        ),
    )
    records.save(tab.world.ws, record)
    try:
        page.reload()  # the same route again: drawn anew from the saved record
        tab.settled(f"#/services/{tab.world.healthy}/details")
        card = page.locator("#card-keywords dl.kv")
        shown = dict(
            zip(card.locator("dt").all_inner_texts(), card.locator("dd").all_inner_texts(), strict=True)
        )
        assert shown == {"period_seconds": "5", "namespace": "scoring-prod", "location": "westeurope"}
        notice = page.inner_text("#keyword-notice")
        assert notice.startswith("namespace: no effect on this machine, applied in the Kubernetes manifests")
        assert (
            "location: recorded and shown in the service's details only (on Azure they set the Azure region)"
            in notice
        )
    finally:
        record.spec = dataclasses.replace(record.spec, settings=asked)
        records.save(tab.world.ws, record)
