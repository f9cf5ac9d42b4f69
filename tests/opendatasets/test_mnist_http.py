"""MNIST downloaded from a mirror: a real HTTP server on 127.0.0.1 serving a folder."""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from modelport.errors import IntegrityError, ModelportError, NotFoundError
from modelport.opendatasets import MNIST, MNIST_URL_ENV
from modelport.opendatasets._mnist import DATA_DIR

TEST_FILES = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


class Handler(SimpleHTTPRequestHandler):
    """Serves a folder; records the paths asked for; labels .gz as Content-Encoding: gzip, as
    misconfigured mirrors do, to check that the client saves the bytes as served."""

    requested: list[str]

    def end_headers(self) -> None:
        if self.path.endswith(".gz"):
            self.send_header("Content-Encoding", "gzip")
        super().end_headers()

    def do_GET(self) -> None:
        self.requested.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Path], tuple[str, list[str]]]]:
    """serve(folder) -> (base URL, list of requested paths)."""
    servers: list[ThreadingHTTPServer] = []

    def start(folder: Path) -> tuple[str, list[str]]:
        requested: list[str] = []
        handler = type("H", (Handler,), {"requested": requested})
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/mnist", requested

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def mirror(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "www"
    (folder / "mnist").mkdir(parents=True)
    for name in names:
        shutil.copyfile(DATA_DIR / name, folder / "mnist" / name)
    return folder


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.fixture(autouse=True)
def no_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MNIST_URL_ENV, raising=False)


def test_download_from_url(tmp_path: Path, serve: Callable[[Path], tuple[str, list[str]]]) -> None:
    url, requested = serve(DATA_DIR.parent)
    paths = MNIST.get_file_dataset("test", source_url=url + "/").download(tmp_path / "data")

    assert requested == [f"/mnist/{name}" for name in TEST_FILES]
    for p, name in zip(paths, TEST_FILES, strict=True):
        assert Path(p) == tmp_path / "data" / "mnist" / name
        assert Path(p).read_bytes() == (DATA_DIR / name).read_bytes()


def test_environment_variable_names_the_mirror(
    tmp_path: Path, serve: Callable[[Path], tuple[str, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, requested = serve(DATA_DIR.parent)
    monkeypatch.setenv(MNIST_URL_ENV, url)
    MNIST.get_file_dataset("test").download(tmp_path)
    assert requested == [f"/mnist/{name}" for name in TEST_FILES]


def test_corrupted_file_is_an_integrity_error_and_nothing_is_written(
    tmp_path: Path, serve: Callable[[Path], tuple[str, list[str]]]
) -> None:
    www = mirror(tmp_path, TEST_FILES)
    served = www / "mnist" / TEST_FILES[0]
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0xFF
    served.write_bytes(bytes(data))
    url, _ = serve(www)

    with pytest.raises(IntegrityError) as info:
        MNIST.get_file_dataset("test", source_url=url).download(tmp_path / "data")
    message = str(info.value)
    assert TEST_FILES[0] in message
    assert hashlib.sha256(data).hexdigest() in message
    assert hashlib.sha256((DATA_DIR / TEST_FILES[0]).read_bytes()).hexdigest() in message
    assert files_under(tmp_path / "data") == []


def test_same_data_in_another_gzip_wrapper_is_accepted(
    tmp_path: Path, serve: Callable[[Path], tuple[str, list[str]]]
) -> None:
    www = mirror(tmp_path, [])
    for name in TEST_FILES:
        content = gzip.decompress((DATA_DIR / name).read_bytes())
        (www / "mnist" / name).write_bytes(gzip.compress(content, compresslevel=1, mtime=0))
    url, _ = serve(www)

    paths = MNIST.get_file_dataset("test", source_url=url).download(tmp_path / "data")
    for p, name in zip(paths, TEST_FILES, strict=True):
        assert Path(p).read_bytes() == (www / "mnist" / name).read_bytes()
        assert gzip.decompress(Path(p).read_bytes()) == gzip.decompress((DATA_DIR / name).read_bytes())


def test_missing_file_is_not_found_naming_the_url(
    tmp_path: Path, serve: Callable[[Path], tuple[str, list[str]]]
) -> None:
    url, _ = serve(mirror(tmp_path, []))
    with pytest.raises(NotFoundError, match=re.escape(f"{url}/{TEST_FILES[0]}")):
        MNIST.get_file_dataset("test", source_url=url).download(tmp_path / "data")
    assert files_under(tmp_path / "data") == []


def test_unreachable_server_is_a_modelport_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mnist"
    with pytest.raises(ModelportError, match=re.escape(f"could not download {url}")):
        MNIST.get_file_dataset("test", source_url=url).download(tmp_path / "data")
    assert files_under(tmp_path / "data") == []
