"""The scoring server's settings, read once at the edge (CLI or JSON file).

Their fields, defaults, JSON form and checks are the file's schema,
:class:`~modelport.servicefiles.ServerSettings`: the engine writes what it asks in those terms
and the server reads them back (one schema on both sides of the process boundary).
:class:`ServerConfig` adds what the server derives from them when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError
from modelport.runtime.loader import ScriptLocation
from modelport.runtime.model_path import default_model_dir
from modelport.servicefiles import ServerSettings

__all__ = ["ServerConfig"]


class ServerConfig(ServerSettings):
    """Settings of one scoring service (see :class:`~modelport.servicefiles.ServerSettings` for
    each field). Every field can be given in a ``--config`` JSON object under the same name; CLI
    flags given explicitly win over the file.

    >>> ServerConfig(entry_script=Path("score.py"), workers=2, scoring_timeout_ms=5000).workers
    2
    """

    __slots__ = ()

    def validate(self) -> None:
        super().validate()
        self.collection()  # a bad model_data is refused here, not in each worker

    def collection(self) -> Any:
        """``model_data`` as a CollectionConfig (with this service's retention), or None."""
        if self.model_data is None:
            return None
        from modelport.monitoring.collection.config import CollectionConfig

        values = {"retention_days": self.retention_days, "max_mb": self.retention_mb, **self.model_data}
        try:
            return CollectionConfig.from_dict(values)
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"model_data: {exc}") from None

    def location(self) -> ScriptLocation:
        """Resolved paths of the script, its folders and the model dir."""
        source = self.source_directory.resolve() if self.source_directory else None
        script = self.entry_script
        if not script.is_absolute():
            script = (source or Path.cwd()) / script
        script = script.resolve()
        if not script.is_file():
            raise InvalidInputError(f"entry script {script} does not exist")
        app_root = (self.app_root or source or script.parent).resolve()
        model_dir = self.model_dir.resolve() if self.model_dir else default_model_dir(app_root)
        return ScriptLocation(script, source, app_root, model_dir)
