"""v1's advanced entry scripts (``@rawhttp``), imports renamed (issue 22, part 4).

- "Binary data": the client posts an image with ``requests.post(uri, files={"image": ...})``;
  ``run()`` opens ``request.files["image"]`` with PIL and answers its size.
- "Cross-origin resource sharing": ``run()`` answers the browser's preflight (OPTIONS) and the
  POST with ``Access-Control-Allow-*`` headers; a page on another origin calls the service from a
  real browser (Chromium), and a page on an origin the script does not allow is refused by it.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from modelport.core import Workspace
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import LocalWebservice

pytestmark = pytest.mark.process

CHROMIUM = Path("/usr/bin/chromium")

# v1's binary-data example, imports renamed.
BINARY_SCORE = """
from modelport.contrib.services.aml_request import AMLRequest, rawhttp
from modelport.contrib.services.aml_response import AMLResponse
from PIL import Image
import json


def init():
    print("This is init()")


@rawhttp
def run(request):
    print("This is run()")
    if request.method == 'GET':
        # For this example, just return the URL for GETs.
        respBody = str.encode(request.full_path)
        return AMLResponse(respBody, 200)
    elif request.method == 'POST':
        file_bytes = request.files["image"]
        image = Image.open(file_bytes).convert('RGB')
        # For a real-world solution, you would load the data from reqBody
        # and send it to the model. Then return the response.

        # For demonstration purposes, this example just returns the size of the image as the response.
        return AMLResponse(json.dumps(image.size), 200)
    else:
        return AMLResponse("bad request", 500)
"""

# v1's CORS example, imports renamed; the allowed origin is the test page's.
CORS_SCORE = """
from modelport.contrib.services.aml_request import AMLRequest, rawhttp
from modelport.contrib.services.aml_response import AMLResponse


def init():
    print("This is init()")


@rawhttp
def run(request):
    print("This is run()")
    print("Request: [{0}]".format(request))
    if request.method == 'GET':
        # For this example, just return the URL for GET.
        # For a real-world solution, you would load the data from URL params or headers
        # and send it to the model. Then return the response.
        respBody = str.encode(request.full_path)
        resp = AMLResponse(respBody, 200)
        resp.headers["Allow"] = "OPTIONS, GET, POST"
        resp.headers["Access-Control-Allow-Methods"] = "OPTIONS, GET, POST"
        resp.headers['Access-Control-Allow-Origin'] = "ALLOWED"
        resp.headers['Access-Control-Allow-Headers'] = "*"
        return resp
    elif request.method == 'POST':
        reqBody = request.get_data(False)
        # For a real-world solution, you would load the data from reqBody
        # and send it to the model. Then return the response.
        resp = AMLResponse(reqBody, 200)
        resp.headers["Allow"] = "OPTIONS, GET, POST"
        resp.headers["Access-Control-Allow-Methods"] = "OPTIONS, GET, POST"
        resp.headers['Access-Control-Allow-Origin'] = "ALLOWED"
        resp.headers['Access-Control-Allow-Headers'] = "*"
        return resp
    elif request.method == 'OPTIONS':
        print("preflight from", request.headers.get("Origin"))
        resp = AMLResponse("", 200)
        resp.headers["Allow"] = "OPTIONS, GET, POST"
        resp.headers["Access-Control-Allow-Methods"] = "OPTIONS, GET, POST"
        resp.headers['Access-Control-Allow-Origin'] = "ALLOWED"
        resp.headers['Access-Control-Allow-Headers'] = "*"
        return resp
    else:
        return AMLResponse("bad request", 400)
"""

PAGE = """<!doctype html><title>caller</title><script>
async function call(uri) {
  try {
    const response = await fetch(uri, {method: "POST", headers: {"Content-Type": "application/json"},
                                       body: JSON.stringify({"data": [[1, 2]]})});
    document.title = "answered " + response.status + " " + await response.text();
  } catch (error) {
    document.title = "refused " + error.name;
  }
}
</script>"""


def deploy(ws: Workspace, name: str, score: str):  # type: ignore[no-untyped-def]
    script = name.replace("-", "_") + ".py"
    Path(script).write_text(score)
    Path("model.txt").write_text("unused")
    model = Model.register(ws, model_path="model.txt", model_name=f"{name}-model")
    config = InferenceConfig(entry_script=script)
    service = Model.deploy(ws, name, [model], config, LocalWebservice.deploy_configuration())
    service.wait_for_deployment(show_output=True)
    return service


def test_binary_data_with_files(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    ws = Workspace.create("rawhttp-ws")
    service = deploy(ws, "binary-svc", BINARY_SCORE)
    try:
        buffer = io.BytesIO()
        Image.new("RGB", (37, 21), (200, 10, 10)).save(buffer, format="JPEG")
        Path("test.jpg").write_bytes(buffer.getvalue())
        # v1's client cell: the image as a multipart upload.
        uri = service.scoring_uri
        image_path = "test.jpg"
        files = {"image": open(image_path, "rb").read()}  # noqa: SIM115 - v1's line as written
        response = requests.post(uri, files=files, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json() == [37, 21]
        assert requests.get(uri + "?a=1", timeout=30).text == "/score?a=1"
        # A request without the file: the script's KeyError, a 500 naming it.
        missing = requests.post(uri, files={"other": b"x"}, timeout=30)
        assert missing.status_code == 500 and "KeyError" in missing.text
    finally:
        service.delete()


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_origin() -> Iterator[str]:
    """A page on another origin than the service's (another port), served on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_cors_from_a_browser_on_another_origin(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page_origin: str
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            "the CORS test needs Debian's chromium at /usr/bin/chromium (scripts/test.sh installs it)"
        )
    from playwright.sync_api import sync_playwright

    monkeypatch.chdir(tmp_path)
    ws = Workspace.create("cors-ws")
    service = deploy(ws, "cors-svc", CORS_SCORE.replace("ALLOWED", page_origin))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(page_origin + "/")
                page.evaluate("uri => call(uri)", service.scoring_uri)
                page.wait_for_function("document.title !== 'caller'", timeout=60_000)
                assert page.title() == 'answered 200 {"data":[[1,2]]}'  # the body echoed
                # The same page from an origin the script does not name: the browser refuses it.
                other = page_origin.replace("localhost", "127.0.0.1")
                page.goto(other + "/")
                page.evaluate("uri => call(uri)", service.scoring_uri)
                page.wait_for_function("document.title !== 'caller'", timeout=60_000)
                assert page.title() == "refused TypeError"
            finally:
                browser.close()
        logs = service.get_logs()
        assert f"preflight from {page_origin}" in logs  # the browser's OPTIONS reached run()
    finally:
        service.delete()
