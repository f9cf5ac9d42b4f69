"""The process side of a service: a gunicorn arbiter supervising uvicorn workers.

gunicorn's arbiter respawns a worker that dies, stops gracefully on SIGTERM, and stops the whole
service (exit code 3) when a worker exits with WORKER_BOOT_ERROR, which is what a worker does when
init() fails. Each worker runs uvicorn (uvloop + httptools) with :class:`~modelport.server.app.ScoringApp`.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys
import threading
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.errors import HaltServer
from gunicorn.glogging import Logger as GunicornLogger
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from modelport.server import metrics
from modelport.server.config import ServerConfig
from modelport.server.protocol import protocol_class
from modelport.server.status import POLL_S, WAKE_SIGNAL, StatusReporter
from modelport.servicefiles import ReadyFile

log = logging.getLogger("modelport.server")
HEARTBEAT_TIMEOUT_S = 60
"""A worker whose event loop is blocked this long is killed by the arbiter (run() never blocks it)."""
REPLACEMENT_HOLD_S = 20.0
"""A worker forked to replace one that died accepts connections only once its init() is done (at
most this long, well under the heartbeat timeout, which only starts counting once it serves)."""

_worker: ModelportWorker | None = None  # this process's worker, once forked


def _not_socket_noise(record: logging.LogRecord) -> bool:
    # uvicorn closes the worker's listening sockets itself; gunicorn then reports closing them again.
    return not str(record.msg).startswith("Error while closing socket")


class QuietLogger(GunicornLogger):
    """gunicorn's logger, sending its records to the root logger configured by modelport.server.logs."""

    def setup(self, cfg: Any) -> None:
        self.cfg = cfg
        self._access_log_enabled = False
        self.loglevel = self.LOG_LEVELS.get(cfg.loglevel.lower(), logging.INFO)
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True
        self.error_log.setLevel(self.loglevel)
        if _not_socket_noise not in self.error_log.filters:
            self.error_log.addFilter(_not_socket_noise)
        self.access_log.disabled = True


class ModelportWorker(UvicornWorker):
    """A uvicorn worker that can be asked to end with an exit code (3 stops the whole service)."""

    CONFIG_KWARGS = {"loop": "auto", "http": "auto"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("uvicorn.error", "uvicorn.access"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
        self.config.access_log = False
        self.config.server_header = False  # x-ms-server-version says who answers
        self.config.timeout_graceful_shutdown = int(self.cfg.graceful_timeout) or None
        self._server: Server | None = None
        self._exit_code = 0

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        # httptools, with a deadline for request headers (uvicorn has none) and whole bodies for
        # the app's routes that read them whole (see protocol.py).
        c = self.app.server_config
        self.config.http = protocol_class(c.read_timeout_s, c.max_body_bytes, self.wsgi.router.whole_body)
        server = Server(config=self.config)
        self._server = server
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
        if self._exit_code:
            sys.exit(self._exit_code)

    def request_exit(self, code: int, reason: str) -> None:
        """End this worker after in-flight requests: 0 to be replaced, 3 to stop the service."""
        log.info("worker %d exiting (%s)", os.getpid(), reason)
        self._exit_code = code
        if self._server is not None:
            # Stop accepting at once (uvicorn would only notice should_exit on its next tick):
            # new connections wait in the shared listen backlog for the replacement worker.
            for listener in getattr(self._server, "servers", []):
                listener.close()
            self._server.should_exit = True
        # A thread stuck in user code must not keep this process alive past its shutdown.
        deadline = min(max(self.cfg.graceful_timeout, 1), 10)
        timer = threading.Timer(deadline, _hard_exit, (code,))
        timer.daemon = True
        timer.start()


class StatusArbiter(Arbiter):
    """gunicorn's arbiter, reading the workers' status reports between two turns of its loop."""

    status: StatusReporter | None = None
    _halting = False

    def halt(self, reason: str | None = None, exit_status: int = 0) -> None:
        self._halting = True
        super().halt(reason, exit_status)

    def reap_workers(self) -> None:
        """gunicorn's, but a worker that failed to boot while the server already halts is one more
        worker gone. gunicorn raises HaltServer for it from inside halt() (its stop() reaps the
        other workers), which left halt() unfinished: a traceback on the console and no on_exit.
        That is the usual end when init() fails in every worker and two exit before the first is
        reaped."""
        while True:
            try:
                super().reap_workers()
                return
            except HaltServer:
                if not self._halting:
                    raise
                # that worker is reaped; reap the others

    def init_signals(self) -> None:
        super().init_signals()
        if self.status is not None:  # a worker's report wakes the loop (see status.WAKE_SIGNAL)
            signal.signal(WAKE_SIGNAL, self._wake)

    def _wake(self, signum: int, frame: Any) -> None:
        self.wakeup()

    def wait_for_signals(self, timeout: float = 1.0) -> list[int]:
        if self.status is None:
            return list(super().wait_for_signals(timeout))
        signals = list(super().wait_for_signals(min(timeout, POLL_S)))
        self.status.poll()
        return signals


def _hard_exit(code: int) -> None:
    log.warning("worker %d did not stop in time; forcing exit", os.getpid())
    from modelport.monitoring.collection import writer

    writer.shutdown(timeout=2.0)  # what was collected still reaches the disk (its own thread)
    logging.shutdown()
    os._exit(code)


class ScoringApplication(BaseApplication):
    """gunicorn application whose workers serve one scoring script."""

    def __init__(self, config: ServerConfig) -> None:
        self.server_config = config
        self._spawned = 0
        self._restarts: Any = None
        self.status: StatusReporter | None = None
        super().__init__()

    def init(self, parser: Any, opts: Any, args: Any) -> None:
        return None

    def run(self) -> None:
        """Run the arbiter until it stops (it leaves through SystemExit)."""
        c = self.server_config
        arbiter = StatusArbiter(self)
        if c.status_file is not None:
            # Made before forking: every worker inherits the socket it reports on.
            self.status = arbiter.status = StatusReporter(c.status_file, c.workers, c.port)
        if self.server_config.reuse_port:
            arbiter.LISTENERS = [self._reuse_port_listener(arbiter)]
        arbiter.run()

    def _reuse_port_listener(self, arbiter: Arbiter) -> Any:
        # One listening socket in the arbiter, shared by the workers as usual, but bound with
        # SO_REUSEPORT so another service can bind the same port (gunicorn's own reuse_port
        # option would give each worker its own socket, and a respawning worker none).
        from gunicorn.sock import TCP6Socket, TCPSocket

        c = self.server_config
        family = socket.AF_INET6 if ":" in c.host else socket.AF_INET
        raw = socket.socket(family, socket.SOCK_STREAM)
        try:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            raw.bind((c.host, c.port))
        except OSError:
            raw.close()
            raise
        kind = TCP6Socket if family == socket.AF_INET6 else TCPSocket
        # gunicorn takes the descriptor over (and closes it after duplicating it).
        return kind(raw.getsockname()[:2], self.cfg, arbiter.log, fd=raw.detach())

    def load_config(self) -> None:
        c = self.server_config
        settings: dict[str, Any] = {
            "bind": [f"[{c.host}]:{c.port}" if ":" in c.host else f"{c.host}:{c.port}"],
            "workers": c.workers,
            "worker_class": f"{ModelportWorker.__module__}.{ModelportWorker.__qualname__}",
            "timeout": HEARTBEAT_TIMEOUT_S,
            "graceful_timeout": max(1, round(c.graceful_timeout_s)),
            "keepalive": c.keepalive_s,
            "logger_class": f"{QuietLogger.__module__}.{QuietLogger.__qualname__}",
            "loglevel": c.log_level,
            "proc_name": f"modelport-{c.service_name}",
            "control_socket_disable": True,
            "preload_app": False,
            "when_ready": self._when_ready,
            "pre_fork": self._pre_fork,
            "post_fork": self._post_fork,
            "child_exit": self._child_exit,
            "on_exit": self._on_exit,
        }
        if c.ssl_certfile is not None and c.ssl_keyfile is not None:
            # gunicorn hands these to each uvicorn worker (uvicorn_worker reads cfg.ssl_options).
            settings["certfile"] = str(c.ssl_certfile)
            settings["keyfile"] = str(c.ssl_keyfile)
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from modelport.server.app import create_app

        assert _worker is not None, "the app is built in a worker process"
        report = self.status.report if self.status is not None else None
        app = create_app(
            self.server_config, on_exit=_worker.request_exit, on_ready=self._worker_ready, on_report=report
        )
        if self._spawned > self.server_config.workers:
            # A replacement: until its model is loaded, the workers still running take the new
            # connections from the shared listen backlog; requests never wait for this one's init().
            app.service.hold_until_ready_s = REPLACEMENT_HOLD_S
        return app

    # -- hooks (arbiter process unless noted) -------------------------------------------------------
    def _when_ready(self, arbiter: Arbiter) -> None:
        # With port 0 the OS chose the port: workers forked from now on know it.
        address = arbiter.LISTENERS[0].getsockname()
        self.server_config.port = int(address[1])
        scheme = "https" if self.server_config.ssl_certfile is not None else "http"
        log.info(
            "modelport scoring server listening on %s://%s:%d", scheme, self.server_config.host, address[1]
        )
        if self.status is not None:
            self.status.port = int(address[1])
            self.status.write()

    def _pre_fork(self, arbiter: Arbiter, worker: Any) -> None:
        self._spawned += 1
        if self._spawned > self.server_config.workers:
            if self._restarts is None:
                from prometheus_client import CollectorRegistry, Counter

                self._restarts = Counter(
                    "modelport_worker_restarts",
                    "Worker processes started to replace one that ended.",
                    registry=CollectorRegistry(),
                )
            self._restarts.inc()
            if self.status is not None:
                self.status.worker_replaced()

    def _post_fork(self, arbiter: Arbiter, worker: Any) -> None:  # in the worker
        global _worker
        _worker = worker
        if self.server_config.cpu_affinity:
            os.sched_setaffinity(0, set(self.server_config.cpu_affinity))

    def _worker_ready(self) -> None:  # in the worker
        # Everything loaded so far (libraries, the model) lives as long as the worker: move it out
        # of the cyclic garbage collector's reach. A full collection otherwise walks it all, ~75 ms
        # for the tutorial's scikit-learn worker, every so often under load: the p99 latency.
        # No gc.collect() first: for the tutorial it found nothing to free and took 37 ms, while
        # the first requests waited (cycles init() left behind stay frozen: memory, not a leak).
        gc.freeze()
        c = self.server_config
        if c.ready_file is not None:
            ReadyFile(pid=os.getppid(), worker_pid=os.getpid(), host=c.host, port=c.port).write(c.ready_file)
        if self.status is not None:
            self.status.report("ready")

    def _child_exit(self, arbiter: Arbiter, worker: Any) -> None:
        metrics.mark_process_dead(worker.pid)
        if self.status is not None:
            self.status.worker_exited(worker.pid)

    def _on_exit(self, arbiter: Arbiter) -> None:
        if self.server_config.ready_file is not None:
            self.server_config.ready_file.unlink(missing_ok=True)
        if self.status is not None:
            self.status.stopped()


def run(config: ServerConfig) -> int:
    """Run the service in this process until it stops; the exit status (0 after SIGTERM, 3 when
    init() failed)."""
    supervisor_pid = os.getpid()
    try:
        ScoringApplication(config).run()
    except SystemExit as stop:
        if os.getpid() != supervisor_pid:
            raise  # a forked worker ending: let it leave the process, never return into the caller
        code = stop.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
