"""v1 names that have no meaning on this machine: they import, and using them raises one
:class:`~modelport.errors.NotSupported` that names the local way to do it.

Two shapes, both marked so a test can tell a refusal from a name that works
(``tests/v1/test_v1_surface.py`` checks every v1 name resolves to one or the other):

- :func:`refused` makes a class: constructing it, or calling any of its class methods
  (``Schedule.create(...)``, ``KubernetesCompute.attach(...)``), raises.
- :func:`refused_method` makes a method or function of a class or module that otherwise works
  (``Model.get_sas_urls``, ``Workspace.add_private_endpoint``): calling it raises.

Each message reads ``"<what>: <why>; <what to do here instead>"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from modelport.errors import NotSupported

__all__ = ["is_refused", "refused", "refused_method"]

_MARK = "__modelport_refused__"


class _Refused(type):
    """A refused class: its class attributes (``create``, ``get``, ``list``, ...) refuse too."""

    _message: str
    _error: type[NotSupported]

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") or name in ("_message", "_error"):
            raise AttributeError(name)
        return refused_method(f"{cls.__name__}.{name}", cls._message, cls._error)


def refused(name: str, message: str, module: str, error: type[NotSupported] = NotSupported) -> type:
    """A class named ``name`` that refuses to be used, saying ``message`` (the local alternative);
    ``error``: the ``NotSupported`` it raises (v1's own exception for the area, when it has one)."""

    def __init__(self: Any, *_args: Any, **_kwargs: Any) -> None:
        raise error(f"{name}: {message}")

    return _Refused(
        name,
        (),
        {
            "__init__": __init__,
            "_message": message,
            "_error": error,
            _MARK: message,
            "__module__": module,
            "__doc__": f"Refused: {message}",
        },
    )


def refused_method(
    qualname: str, message: str, error: type[NotSupported] = NotSupported
) -> Callable[..., NoReturn]:
    """A function (a method once set in a class body) that raises ``error`` (a ``NotSupported``)
    when called, whatever it is given: ``"<qualname>: <message>"``."""

    def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise error(f"{qualname}: {message}")

    refuse.__name__ = qualname.rsplit(".", 1)[-1]
    refuse.__qualname__ = qualname
    refuse.__doc__ = f"Refused: {message}"
    setattr(refuse, _MARK, message)
    return refuse


def is_refused(obj: Any) -> str | None:
    """The message of a refused class or method, or ``None`` for one that works."""
    message = obj.__dict__.get(_MARK) if isinstance(obj, type) else getattr(obj, _MARK, None)
    return message if isinstance(message, str) else None
