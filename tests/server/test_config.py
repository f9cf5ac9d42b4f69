"""Server settings: the JSON config file, CLI flags over it, validation, the public surface."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

import modelport.contrib.services
import modelport.runtime
import modelport.server
from modelport.errors import InvalidInputError
from modelport.server.cli import config_from_args, configure_parser
from modelport.server.config import ServerConfig
from tests.fixtures import script


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(argv)


def test_defaults_match_the_v1_server() -> None:
    config = config_from_args(_parse("--entry-script", str(script("plain_echo.py"))))
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 5001, 1)
    assert config.scoring_timeout_ms == 60_000 and config.max_body_bytes == 100 * 1024 * 1024
    assert not config.auth_enabled


def test_config_file_with_cli_overrides_and_relative_paths(tmp_path: Path) -> None:
    cfg = tmp_path / "svc.json"
    cfg.write_text(
        json.dumps(
            {
                "entry_script": str(script("plain_echo.py")),
                "keys_file": "keys.json",
                "workers": 3,
                "port": 6000,
                "cpu_affinity": "0,1",
                "token_auth": True,
                "preload_modules": ["json", "csv"],
            }
        )
    )
    config = config_from_args(_parse("--config", str(cfg), "--port", "7000", "--max-body-mb", "2"))
    assert config.port == 7000 and config.workers == 3 and config.max_body_mb == 2
    assert config.keys_file == tmp_path / "keys.json"
    assert config.cpu_affinity == [0, 1] and config.token_auth and config.auth_enabled
    assert config.preload_modules == ["json", "csv"]
    assert config_from_args(_parse("--config", str(cfg), "--preload-modules", "a, b")).preload_modules == [
        "a",
        "b",
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"entry_script": "s.py", "wrkers": 2}, "unknown server setting"),
        ({}, "entry script is required"),
        ({"entry_script": "s.py", "workers": 0}, "workers"),
        ({"entry_script": "s.py", "cpu_affinity": "a,b"}, "cpu_affinity"),
        ({"entry_script": "s.py", "max_concurrent_requests": 0}, "max_concurrent_requests"),
    ],
)
def test_bad_settings_are_named(values: dict, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        ServerConfig.from_mapping(values)


def test_missing_entry_script_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "modelport.server", "--entry-script", str(tmp_path / "nope.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_every_setting_has_a_flag() -> None:
    flags = {a.dest for a in argparse.ArgumentParser()._actions}
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    dests = {a.dest for a in parser._actions} - flags
    assert set(ServerConfig.field_names()) <= dests


@pytest.mark.parametrize("module", [modelport.runtime, modelport.server, modelport.contrib.services])
def test_public_surface_matches_all(module) -> None:
    public = {
        n for n in vars(module) if not n.startswith("_") and not isinstance(getattr(module, n), type(sys))
    }
    public -= {"annotations"}
    assert set(module.__all__) == public
