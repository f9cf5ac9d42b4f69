"""Ports are checked the way the server binds them (issue 11, bug 11)."""

from __future__ import annotations

import socket

from modelport.deploy.ports import free_port, port_is_free


def _time_wait_on(port: int) -> None:
    """Leave a connection in TIME-WAIT on ``port``: the server side closes first, as a deleted
    service's server does."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1)
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = listener.accept()
    conn.close()  # the server's side closes first: its side of the connection waits in TIME-WAIT
    client.recv(1)
    client.close()
    listener.close()


def test_a_port_in_time_wait_is_free_for_the_server() -> None:
    """A fixed port could not be reused for ~60 s after its service was deleted."""
    port = free_port()
    _time_wait_on(port)
    with socket.socket() as plain:  # what the old check did: bind without SO_REUSEADDR
        try:
            plain.bind(("127.0.0.1", port))
            old_check_said_free = True
        except OSError:
            old_check_said_free = False
    assert not old_check_said_free  # the TIME-WAIT connection is there
    assert port_is_free(port)


def test_a_listening_port_is_not_free() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        assert not port_is_free(busy.getsockname()[1])
