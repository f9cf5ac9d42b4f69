"""``ResourceConfiguration``: the resources a model needs (v1's ``azureml.core.resource_configuration``)."""

from __future__ import annotations

from typing import Any

from modelport.errors import InvalidInputError

__all__ = ["ResourceConfiguration"]


def _number(value: Any, what: str, integer: bool = False) -> Any:
    if value is None:
        return None
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or value < 0:
        kind = "a whole number" if integer else "a number"
        raise InvalidInputError(f"ResourceConfiguration {what} must be {kind} >= 0, got {value!r}")
    return value


class ResourceConfiguration:
    """CPU cores, memory and GPUs a model needs; kept with a model version by ``Model.register``.

    Example::

        >>> from modelport.core.resource_configuration import ResourceConfiguration
        >>> model = Model.register(ws, "model.pkl", "sklearn_regression",
        ...                        resource_configuration=ResourceConfiguration(cpu=1, memory_in_gb=0.5))
        >>> model.resource_configuration.cpu
        1
    """

    def __init__(
        self, cpu: float | None = None, memory_in_gb: float | None = None, gpu: int | None = None
    ) -> None:
        self.cpu = _number(cpu, "cpu")
        self.memory_in_gb = _number(memory_in_gb, "memory_in_gb")
        self.gpu = _number(gpu, "gpu", integer=True)

    def serialize(self) -> dict[str, Any]:
        """v1's JSON form: ``{"cpu": ..., "memoryInGB": ..., "gpu": ...}``."""
        return {"cpu": self.cpu, "memoryInGB": self.memory_in_gb, "gpu": self.gpu}

    @staticmethod
    def deserialize(payload: dict[str, Any]) -> ResourceConfiguration:
        if not isinstance(payload, dict):
            raise InvalidInputError(f"a resource configuration is a dict, got {type(payload).__name__}")
        return ResourceConfiguration(payload.get("cpu"), payload.get("memoryInGB"), payload.get("gpu"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResourceConfiguration) and other.serialize() == self.serialize()

    def __hash__(self) -> int:
        return hash((self.cpu, self.memory_in_gb, self.gpu))

    def __repr__(self) -> str:
        return (
            f"ResourceConfiguration(cpu={self.cpu!r}, memory_in_gb={self.memory_in_gb!r}, gpu={self.gpu!r})"
        )
