"""v1's ``ContainerRegistry``: where a base image is pulled from (``env.docker.base_image_registry``).

A local run and a local service use no container, so the registry is kept on ``env.docker`` and
has no local effect; a Dockerfile exported with
``modelport export`` names the base image, and ``docker login`` to that registry is the user's.

Example::

    env.docker.base_image = "myregistry.azurecr.io/base:1"
    env.docker.base_image_registry.address = "myregistry.azurecr.io"
"""

from __future__ import annotations

__all__ = ["ContainerRegistry"]


class ContainerRegistry:
    """A container registry's address and login (v1's ``azureml.core.ContainerRegistry``)."""

    def __init__(self) -> None:
        self.address: str | None = None
        self.username: str | None = None
        self.password: str | None = None
        self.registry_identity: object | None = None

    def __repr__(self) -> str:
        # the password stays out of reprs and logs
        return f"ContainerRegistry(address={self.address!r}, username={self.username!r})"
