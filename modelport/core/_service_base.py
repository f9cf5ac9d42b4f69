"""What every v1 class of a deployed service shares, and which class a service's record opens as.

``Webservice(ws, name)`` and ``Model.deploy`` give a service back as the v1 class of its kind:
``LocalWebservice``, ``AciWebservice`` or ``AksWebservice`` by its compute type, ``AksEndpoint``
for an endpoint it deployed. Each class declares the kinds it stands for in its own class
statement (``class AciWebservice(Webservice, kinds=("ACI",))``), as a polymorphic identity: this
base, which ``Model.deploy`` uses, imports none of them (they sit above ``Model``:
``Webservice.models`` returns Models).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from modelport.client import ServiceClient
from modelport.deploy.records import ServiceRecord
from modelport.workspace import Workspace

__all__ = ["ServiceBase"]


class ServiceBase:
    """A service's record seen through v1's classes."""

    _kinds: ClassVar[dict[str, type[ServiceBase]]] = {}
    """A kind (a compute type, ``endpoint``) -> the class that stands for it; ``""``: any other."""

    workspace: Workspace
    name: str
    _record: ServiceRecord
    _client: ServiceClient | None
    _phases_shown: bool
    _notices_shown: bool
    """Whether what the environment replaced was said already (by the deploy's progress)."""

    def __init_subclass__(cls, kinds: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for kind in kinds:
            ServiceBase._kinds[kind] = cls

    @classmethod
    def _class_of(cls, kind: str) -> type[ServiceBase]:
        """The class a service of ``kind`` opens as, when asked through a general class."""
        if cls is not ServiceBase and ServiceBase._kinds.get("") is not cls:
            return cls  # asked for a particular class (AksEndpoint._wrap): that one
        return ServiceBase._kinds.get(kind) or ServiceBase._kinds[""]

    @classmethod
    def _wrap(
        cls, workspace: Workspace, record: ServiceRecord, phases_shown: bool = False, kind: str | None = None
    ) -> Self:
        """``record`` as an object of its kind's class (``kind``, else its compute type's)."""
        svc = object.__new__(cls._class_of(kind or record.compute_type))
        svc.workspace, svc.name, svc._record, svc._client = workspace, record.name, record, None
        svc._phases_shown = phases_shown
        svc._notices_shown = phases_shown
        return svc  # type: ignore[return-value]  # a subclass of cls (or cls itself)
