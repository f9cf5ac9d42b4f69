"""``modelport serve`` / ``python -m modelport.server``: run a scoring script behind the server.

Example::

    python -m modelport.server --entry-script score.py --model-dir ./model --port 5001 --workers 2
    python -m modelport.server --config service.json      # the same settings as a JSON object
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError, ModelportError
from modelport.runtime.loader import ScriptLocation
from modelport.server.config import ServerConfig

_FLAGS: list[tuple[str, dict[str, Any]]] = [
    ("--entry-script", {"type": Path, "help": "the scoring script (init()/run())"}),
    ("--model-dir", {"type": Path, "help": "what AZUREML_MODEL_DIR points to"}),
    ("--source-directory", {"type": Path, "help": "folder of the script and its helper modules"}),
    ("--app-root", {"type": Path, "help": "AML_APP_ROOT (default: source directory or script folder)"}),
    ("--port", {"type": int, "help": "TCP port (default 5001; 0 = any free port, see --ready-file)"}),
    ("--host", {"help": "address to bind (default 127.0.0.1)"}),
    ("--workers", {"type": int, "help": "worker processes (default 1)"}),
    ("--reuse-port", {"action": "store_true", "default": None, "help": "bind with SO_REUSEPORT"}),
    ("--auth-key", {"help": "require 'Authorization: Bearer <this key>' (prefer --keys-file)"}),
    (
        "--keys-file",
        {"type": Path, "help": "JSON with primary_key/secondary_key/token_secret, re-read on change"},
    ),
    ("--token-auth", {"action": "store_true", "default": None, "help": "accept signed tokens"}),
    ("--ssl-certfile", {"type": Path, "help": "serve HTTPS with this PEM certificate (with --ssl-keyfile)"}),
    ("--ssl-keyfile", {"type": Path, "help": "the certificate's PEM private key (keep it 0600)"}),
    ("--scoring-timeout-ms", {"type": int, "help": "run() time limit, then 504 (default 60000)"}),
    ("--max-body-mb", {"type": float, "help": "request body limit, then 413 (default 100)"}),
    ("--max-concurrent-requests", {"type": int, "help": "run() calls at once per worker (default 1)"}),
    ("--max-request-wait-ms", {"type": int, "help": "queue time before 503 (default 500)"}),
    ("--max-worker-memory-mb", {"type": float, "help": "recycle a worker whose RSS grows past this"}),
    ("--cpu-affinity", {"help": "CPUs for the workers, e.g. 0,1"}),
    ("--preload-modules", {"help": "libraries to import once before forking workers, e.g. sklearn,joblib"}),
    ("--models", {"help": "registered models served, NAME:VERSION,... (the V2 routes' model names)"}),
    (
        "--max-batch-size",
        {"type": int, "help": "adaptive batching: rows per run() call (array-input scripts)"},
    ),
    (
        "--max-batch-latency-ms",
        {"type": float, "help": "batching: longest wait for a batch to fill (default 5)"},
    ),
    (
        "--fast-json-loads",
        {
            "action": argparse.BooleanOptionalAction,
            "default": None,
            "help": "json.loads backed by orjson, same results (default on)",
        },
    ),
    ("--debug", {"action": "store_true", "default": None, "help": "tracebacks in 500 responses"}),
    ("--log-file", {"type": Path, "help": "also append the log to this file"}),
    ("--log-level", {"help": "debug, info (default), warning, error"}),
    ("--ready-file", {"type": Path, "help": "written (JSON with port and pid) once init() succeeded"}),
    (
        "--traces-file",
        {"type": Path, "help": "a JSON line per scoring request: id, status, latency, run()'s prints"},
    ),
    (
        "--model-data",
        {
            "type": json.loads,
            "help": "JSON {root, workspace, service[, models]}: where ModelDataCollector writes",
        },
    ),
    (
        "--retention-days",
        {"type": int, "help": "collected data and traces older than this are deleted (default 30)"},
    ),
    (
        "--retention-mb",
        {"type": float, "help": "collected data, and traces, each kept under this (default 1024)"},
    ),
    ("--monitoring-dir", {"type": Path, "help": "folder of drift results shown as /metrics gauges"}),
    ("--status-file", {"type": Path, "help": "the supervisor's state, JSON, kept up to date"}),
    ("--metrics-dir", {"type": Path, "help": "folder for multi-process metrics (default: a temp folder)"}),
    ("--graceful-timeout-s", {"type": float, "help": "on SIGTERM, time for in-flight requests (default 30)"}),
    ("--keepalive-s", {"type": int, "help": "idle keep-alive connections close after this (default 5)"}),
    ("--read-timeout-s", {"type": float, "help": "time for a request's headers, then its body (default 30)"}),
    ("--service-name", {"help": "name shown in swagger.json and process titles"}),
]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the serve options to ``parser`` (every option may also come from ``--config``)."""
    parser.add_argument("--config", type=Path, help="JSON object of settings (same names, with underscores)")
    for flag, options in _FLAGS:
        parser.add_argument(flag, **{"default": None, **options})


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The ServerConfig for parsed arguments: the ``--config`` file, then flags given explicitly."""
    given = {
        flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_"), None) for flag, _ in _FLAGS
    }
    given = {k: v for k, v in given.items() if v is not None}
    config_file = getattr(args, "config", None)
    if config_file is not None:
        return ServerConfig.from_json_file(config_file, given)
    return ServerConfig.from_mapping(given)


def _preload(extra: list[str]) -> None:
    # Imported once in the supervisor, shared copy-on-write by workers: a respawn is faster.
    import gc
    import importlib
    import logging

    import modelport.server.app  # noqa: F401

    for name in ["numpy", "inference_schema.schema_decorators", *extra]:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional library only costs speed
            logging.getLogger("modelport.server").warning("cannot preload %s: %s", name, exc)
    # Out of the collector's reach before forking: a worker's collections would otherwise write to
    # every one of these objects' headers, copying the pages it shares with the supervisor, while
    # init() runs. Measured for the tutorial: init() 575 -> 528 ms in the worker (median of 4).
    gc.freeze()


def _binds_run(tree: ast.Module) -> bool:
    """Whether the script may define ``run`` (lenient on purpose: any binding of the name anywhere,
    or a ``*`` import, counts; only a script that surely has no run() is refused)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == "run":
            return True
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == "run":
            return True
        if isinstance(node, ast.Import | ast.ImportFrom) and any(
            a.name == "*" or (a.asname or a.name).split(".")[0] == "run" for a in node.names
        ):
            return True
    return False


def check_before_serving(config: ServerConfig, location: ScriptLocation) -> None:
    """What ``modelport deploy`` checks before it starts anything, for ``modelport serve``: the
    folders exist, the script parses and defines run(). Raises InvalidInputError, one line."""
    for flag, folder in (("--model-dir", config.model_dir), ("--source-directory", config.source_directory)):
        if folder is not None and not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise InvalidInputError(f"{flag} {folder} {what}")
    script = location.entry_script
    try:
        tree = ast.parse(script.read_bytes(), filename=str(script))
    except SyntaxError as exc:
        raise InvalidInputError(f"{script} line {exc.lineno}: {exc.msg}") from None
    if not _binds_run(tree):
        raise InvalidInputError(f"{script} defines no run() function (the server calls run() per request)")
    if config.ssl_certfile is not None and config.ssl_keyfile is not None:
        _check_tls(config.ssl_certfile, config.ssl_keyfile)


def _check_tls(cert: Path, key: Path) -> None:
    """The certificate and key load together (each worker would fail to start otherwise)."""
    import ssl

    for flag, path in (("--ssl-certfile", cert), ("--ssl-keyfile", key)):
        if not os.access(path, os.R_OK):
            raise InvalidInputError(f"{flag} {path} cannot be read")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        reason = (exc.reason or str(exc)).lower().replace("_", " ")
        raise InvalidInputError(
            f"--ssl-certfile {cert} and --ssl-keyfile {key} cannot serve TLS ({reason})"
        ) from None


def serve(args: argparse.Namespace, *, foreground: bool = False) -> int:
    """Run the scoring server until SIGTERM/SIGINT; the exit status (non-zero when init() failed).

    ``foreground`` (``modelport serve``, a person at a terminal): the script and folders are
    checked first (one line, exit 1), the console shows modelport's lines and warnings but not
    gunicorn's and uvicorn's routine ones (``--log-file`` and ``--log-level debug`` keep them), and
    a script that fails to start ends with its traceback and one line saying so, exit 1.
    ``python -m modelport.server`` (what deployments run) logs everything, exit 2 for bad settings
    and 3 when init() failed (docs/serving.md)."""
    try:
        config = config_from_args(args)
        location = config.location()
        if foreground:
            check_before_serving(config, location)
    except ModelportError as exc:
        print(f"modelport serve: {exc}", file=sys.stderr)
        return 1 if foreground else 2
    from modelport.server.ports import port_problem

    problem = port_problem(config)
    if problem is not None:
        print(f"modelport serve: {problem}", file=sys.stderr)
        return 1
    from modelport.server import tempdirs

    tempdirs.remove_stale()
    temp_model_dir: Path | None = None
    if location.model_dir is None:
        # v1 scripts do os.path.join(os.getenv("AZUREML_MODEL_DIR"), ...) in init(): unset, that
        # is a TypeError far from the cause. An empty folder lets a script that needs no model run.
        temp_model_dir = tempdirs.make("model-dir")
        config.model_dir = temp_model_dir
        location = config.location()
        print(
            f"modelport serve: warning: no --model-dir, and no azureml-models/ in {location.app_root}: "
            f"AZUREML_MODEL_DIR is an empty temporary folder, {temp_model_dir}",
            file=sys.stderr,
        )
    os.environ.update(location.environment())
    from modelport.server import logs, metrics

    logs.configure(config.log_level, config.log_file, quiet_console=foreground)
    temp_metrics = config.metrics_dir is None
    metrics_dir = tempdirs.make("metrics") if temp_metrics else config.metrics_dir
    assert metrics_dir is not None
    metrics.enable_multiprocess(metrics_dir)
    if config.ready_file is not None:
        config.ready_file.unlink(missing_ok=True)
    _preload(config.preload_modules or [])
    from modelport.server.service import INIT_FAILED_EXIT
    from modelport.server.supervisor import run

    supervisor_pid = os.getpid()
    try:
        code = run(config)
        if foreground and code == INIT_FAILED_EXIT and os.getpid() == supervisor_pid:
            print(
                f"modelport serve: {location.entry_script.name} failed to start (its traceback is above); "
                "the server stopped",
                file=sys.stderr,
                flush=True,
            )
            return 1
        return code
    finally:
        if os.getpid() == supervisor_pid:
            if temp_metrics:
                shutil.rmtree(metrics_dir, ignore_errors=True)
            if temp_model_dir is not None:
                shutil.rmtree(temp_model_dir, ignore_errors=True)
