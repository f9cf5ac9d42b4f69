"""What a scoring script can know about the request it is serving: its request id.

The server sets :data:`request_ids` around each run() call, on the thread that calls it (the
run thread), to the id it answers with (``x-request-id``: the client's, else one it made). With
adaptive batching one run() call serves several requests: it holds all their ids.

>>> token = request_ids.set(("3f2a...",))
>>> current_request_id()
'3f2a...'
>>> request_ids.reset(token)
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["NO_REQUEST", "current_request_id", "request_ids"]

NO_REQUEST = "00000000-0000-0000-0000-000000000000"
"""What v1's ModelDataCollector wrote outside a request."""

request_ids: ContextVar[tuple[str, ...]] = ContextVar("modelport_request_ids", default=())
"""The ids of the requests the current run() call serves (empty outside one)."""


def current_request_id() -> str:
    """The id of the request being served (several, space-separated, for a batch), else NO_REQUEST."""
    ids = request_ids.get()
    if not ids:
        return NO_REQUEST
    return ids[0] if len(ids) == 1 else " ".join(ids)
