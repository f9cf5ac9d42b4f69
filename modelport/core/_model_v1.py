"""The rest of v1's ``Model`` surface, kept out of ``model.py``: the run and experiment a model
came from, the datasets it references (read and added), tags and properties changed in one call,
``print_configuration``; ``get_sas_urls`` refuses (there is no blob storage), naming ``download``."""

from __future__ import annotations

import builtins
import json
from typing import Any

from modelport._refused import refused_method
from modelport.errors import InvalidInputError

__all__ = ["ModelV1"]


class ModelV1:
    """v1's ``Model`` members beyond what ``model.py`` implements (a base of it)."""

    unpack = False  # v1: a registered archive is not unpacked on download; nor is it here
    mime_type = "application/octet-stream"  # v1's type of a registered model file
    created_by = None  # who registered a model is not recorded in a local workspace
    _record: Any
    workspace: Any

    @property
    def run(self) -> Any:
        """The run the model was registered from (``run.register_model``), or None."""
        run_id = self.run_id  # type: ignore[attr-defined]
        if run_id is None:
            return None
        from modelport.core.experiment import open_run

        return open_run(self.workspace, run_id)

    @property
    def experiment_name(self) -> str | None:
        """The experiment of the run the model was registered from, or None."""
        from modelport.registry import runs

        run_id = self.run_id  # type: ignore[attr-defined]
        return None if run_id is None else runs.get_run(self.workspace, run_id).experiment

    @property
    def datasets(self) -> dict[str, builtins.list[Any]]:
        """The datasets given with ``datasets=[(purpose, dataset)]``, by purpose."""
        from modelport.core.dataset import dataset_from_ref

        out: dict[str, builtins.list[Any]] = {}
        for purpose, ref in self._extras().get("datasets", []):
            out.setdefault(purpose, []).append(dataset_from_ref(self.workspace, ref))
        return out

    def _extras(self) -> dict[str, Any]:
        from modelport.registry import datasets as dataset_registry

        return dataset_registry.model_extras(self.workspace, self._record.name, self._record.version)

    def add_dataset_references(self, datasets: builtins.list[tuple[str, Any]]) -> None:
        """Reference more datasets, as ``[(purpose, dataset)]`` (v1's ``add_dataset_references``)."""
        from modelport.core.dataset import dataset_ref
        from modelport.registry import datasets as dataset_registry

        if not isinstance(datasets, builtins.list) or not all(
            isinstance(d, tuple) and len(d) == 2 for d in datasets
        ):
            raise InvalidInputError(
                "datasets must be a list of (purpose, dataset) tuples, e.g. [('training', ds)]"
            )
        extras = self._extras()
        extras["datasets"] = extras.get("datasets", []) + [
            [str(purpose), dataset_ref(ds, "datasets")] for purpose, ds in datasets
        ]
        dataset_registry.set_model_extras(self.workspace, self._record.name, self._record.version, extras)

    def update_tags_properties(
        self,
        add_tags: dict[str, Any] | None = None,
        remove_tags: builtins.list[str] | None = None,
        add_properties: dict[str, Any] | None = None,
        remove_properties: builtins.list[str] | None = None,
    ) -> None:
        """Add and remove tags and add properties in one call. Properties are add-only here (a
        deployment records them), so ``remove_properties`` is refused."""
        if remove_properties:
            raise InvalidInputError(
                f"model '{self._record.name}:{self._record.version}': properties cannot be removed; "
                "register a new version without them"
            )
        if add_tags:
            self.add_tags(add_tags)  # type: ignore[attr-defined]
        if remove_tags:
            self.remove_tags(remove_tags)  # type: ignore[attr-defined]
        if add_properties:
            self.add_properties(add_properties)  # type: ignore[attr-defined]

    def print_configuration(self) -> None:
        """Print the model's configuration (its ``serialize()``), as v1 did."""
        print(json.dumps(self.serialize(), indent=2, default=str))  # type: ignore[attr-defined]

    get_sas_urls = refused_method(
        "Model.get_sas_urls",
        "a local model's files are in the workspace, not in blob storage; copy them with "
        "model.download(target_dir) or find them with Model.get_model_path(name)",
    )
