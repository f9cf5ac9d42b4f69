"""``modelport serve --ssl-certfile/--ssl-keyfile``: files that cannot serve TLS are one line
before anything starts (the deployment path checks them in modelport.deploy.keywords)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.errors import InvalidInputError
from modelport.server.cli import check_before_serving
from modelport.server.config import ServerConfig
from tests.v1.test_deploy_keywords import self_signed


def _config(tmp_path: Path, cert: Path, key: Path) -> ServerConfig:
    script = tmp_path / "score.py"
    script.write_text("def init():\n    pass\n\n\ndef run(raw):\n    return raw\n")
    return ServerConfig.from_mapping(
        {"entry_script": str(script), "ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    )


def test_matching_files_pass_and_a_foreign_key_is_one_line(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    _, other_key = self_signed(tmp_path, "other")
    good = _config(tmp_path, cert, key)
    check_before_serving(good, good.location())
    bad = _config(tmp_path, cert, other_key)
    with pytest.raises(InvalidInputError, match=r"cannot serve TLS \(key values mismatch\)") as raised:
        check_before_serving(bad, bad.location())
    assert "\n" not in str(raised.value)
    missing = _config(tmp_path, tmp_path / "nope.pem", key)
    with pytest.raises(InvalidInputError, match=r"--ssl-certfile .*nope\.pem cannot be read"):
        check_before_serving(missing, missing.location())


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "score.py"
    script.write_text("def run(raw):\n    return raw\n")
    with pytest.raises(InvalidInputError, match="ssl_certfile and ssl_keyfile go together"):
        ServerConfig.from_mapping({"entry_script": str(script), "ssl_certfile": str(tmp_path / "c.pem")})
