"""The rest of v1's ``Experiment`` surface, kept out of ``experiment.py``: what has a local meaning
works (``workspace_object``, ``portal_url``, ``refresh``), and what needs Azure (experiment tags,
archiving) refuses with one line naming the local way."""

from __future__ import annotations

from typing import Any

from modelport._refused import refused_method

__all__ = ["ExperimentV1"]

_DOCS = "there is no documentation page per run type; see docs/v1-data-and-runs.md"


class ExperimentV1:
    """v1's ``Experiment`` members beyond what ``experiment.py`` implements."""

    identity = None  # v1's managed identity: none locally
    archived_time = None  # local experiments are not archived
    workspace: Any
    name: str

    @property
    def workspace_object(self) -> Any:
        """v1's other name of ``experiment.workspace``."""
        return self.workspace

    def get_portal_url(self) -> str:
        return f"modelport job list --experiment {self.name} (workspace {self.workspace.path})"

    @property
    def portal_url(self) -> str:
        return self.get_portal_url()

    def refresh(self) -> None:
        """Nothing to reload: an experiment's runs are read from the workspace each time."""

    _TAGS = "experiments carry no tags here; tag its runs (run.tag(key, value))"
    tag = refused_method("Experiment.tag", _TAGS)
    set_tags = refused_method("Experiment.set_tags", _TAGS)
    remove_tags = refused_method("Experiment.remove_tags", _TAGS)
    _KEEP = "local experiments are kept with their runs; there is nothing to archive, restore or delete"
    reactivate = refused_method("Experiment.reactivate", _KEEP)
    delete = staticmethod(refused_method("Experiment.delete", _KEEP))
    from_directory = staticmethod(
        refused_method(
            "Experiment.from_directory",
            "v1's project folders are not used; open the workspace with Workspace.from_config() and "
            "make the experiment with Experiment(ws, name)",
        )
    )
    get_docs_url = refused_method("Experiment.get_docs_url", _DOCS)
