"""The rest of v1's ``Webservice`` surface, kept out of ``webservice.py``: tags and properties
added or removed in place, ``check_for_existing_webservice``, ``deserialize``, AKS's
``get_access_token``; v1's image-based deployment functions refuse, naming ``Model.deploy``."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from modelport._refused import refused_method
from modelport.errors import InvalidInputError, ServiceExists, ServiceNotFound

__all__ = ["AksServiceAccessToken", "WebserviceV1"]

_IMAGES = (
    "services are not built from container images here; deploy the models with "
    "Model.deploy(ws, name, models, InferenceConfig(entry_script=..., environment=...), deployment_config)"
)


@dataclass(frozen=True)
class AksServiceAccessToken:
    """v1's token of a token-authenticated AKS service (``service.get_access_token()``)."""

    access_token: str
    refresh_after: float
    expiry_on: float
    token_type: str = "Bearer"


class WebserviceV1:
    """v1's ``Webservice`` members beyond what ``webservice.py`` implements (a base of it)."""

    image_id = None  # no container image: a local service runs its environment's interpreter

    def add_tags(self, tags: dict[str, Any]) -> None:
        """Add ``tags`` to the service's tags (v1's ``add_tags``)."""
        current: dict[str, str] = self.tags  # type: ignore[attr-defined]
        self.update(tags={**current, **tags})  # type: ignore[attr-defined]

    def remove_tags(self, tags: builtins.list[str] | str) -> None:
        """Remove the tags named in ``tags`` (v1's ``remove_tags``)."""
        names = [tags] if isinstance(tags, str) else list(tags)
        current: dict[str, str] = self.tags  # type: ignore[attr-defined]
        self.update(tags={k: v for k, v in current.items() if k not in names})  # type: ignore[attr-defined]

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Add ``properties``; as in v1, an existing property keeps its value."""
        current: dict[str, str] = self.properties  # type: ignore[attr-defined]
        self.update(properties={**properties, **current})  # type: ignore[attr-defined]

    @classmethod
    def check_for_existing_webservice(
        cls,
        workspace: Any,
        name: str,
        overwrite: bool = False,
        request_func: Any = None,
        check_func: Any = None,
    ) -> None:
        """Raise :class:`~modelport.errors.ServiceExists` (a ``WebserviceException``) when a service
        ``name`` exists, unless ``overwrite``, which deletes it (v1's check before a deployment)."""
        try:
            existing = cls(workspace, name)  # type: ignore[call-arg]
        except ServiceNotFound:
            return
        if not overwrite:
            raise ServiceExists(f"service '{name}' already exists; deploy with overwrite=True to replace it")
        existing.delete()  # type: ignore[attr-defined]

    @classmethod
    def deserialize(cls, workspace: Any, webservice_payload: dict[str, Any]) -> Any:
        """The service a ``serialize()`` payload names (it is looked up in ``workspace``)."""
        if not isinstance(webservice_payload, dict) or not webservice_payload.get("name"):
            raise InvalidInputError(
                "webservice_payload must be a dict from Webservice.serialize() with a name"
            )
        return cls(workspace, str(webservice_payload["name"]))  # type: ignore[call-arg]

    deploy = staticmethod(refused_method("Webservice.deploy", _IMAGES))
    deploy_from_image = staticmethod(refused_method("Webservice.deploy_from_image", _IMAGES))

    def get_access_token(self) -> AksServiceAccessToken:
        """The service's current token (token authentication must be on): v1's
        ``AksServiceAccessToken`` with ``access_token``, ``refresh_after`` and ``expiry_on``."""
        token, refresh_after = self.get_token()  # type: ignore[attr-defined]
        # engine.token: an hour's token, to refresh ten minutes before it ends
        return AksServiceAccessToken(token, refresh_after, refresh_after + 600)
