"""The hint a failed init() gets when its environment replaced a pin the traceback names.

An environment built under the ``nearest`` pin policy may hold scikit-learn 1.1.3 where the user
pinned 0.22.1 (no wheel for this Python). A model pickled with 0.22.1 may not load on 1.1.3; the
user then sees their traceback and, after it, one line naming the replaced pin. The environment's
build record (``modelport-env.json`` in the virtualenv, ``sys.prefix``) says what was replaced.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["RECORD_FILE", "hint_for", "replacements"]

#: The build record's name in a virtualenv (``modelport.environments.builder.RECORD_FILE``; the
#: runtime cannot import the builder, tests/v1/test_environments_old_pins.py checks they agree).
RECORD_FILE = "modelport-env.json"


def replacements(prefix: str | None = None) -> list[dict[str, str]]:
    """The pins the running environment replaced (``[{"name", "asked", "version", "reason"}]``)."""
    try:
        record: Any = json.loads((Path(prefix or sys.prefix) / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return []
    found = record.get("replacements") if isinstance(record, dict) else None
    return [r for r in found or [] if isinstance(r, dict) and {"name", "asked", "version"} <= r.keys()]


def _modules_of(distribution: str) -> set[str]:
    """The top-level modules a distribution provides (``scikit-learn`` -> ``sklearn``)."""
    wanted = re.sub(r"[-_.]+", "-", distribution).lower()
    found = {wanted.replace("-", "_")}
    for module, dists in importlib.metadata.packages_distributions().items():
        if any(re.sub(r"[-_.]+", "-", d).lower() == wanted for d in dists):
            found.add(module)
    return found


def hint_for(traceback_text: str, prefix: str | None = None) -> str | None:
    """One line for a traceback that names a module of a replaced pin; None otherwise."""
    replaced = replacements(prefix)
    if not replaced:
        return None
    lines = []
    for r in replaced:
        if any(re.search(rf"\b{re.escape(m)}\b", traceback_text) for m in _modules_of(r["name"])):
            asked = r["asked"].split("==", 1)[-1]
            lines.append(
                f"hint: this environment has {r['name']} {r['version']} where {r['asked']} was asked "
                f"({r.get('reason') or 'it does not install here'}): an object saved with {r['name']} "
                f"{asked} may not load on {r['version']}; save the model again with {r['name']} "
                f"{r['version']} (for example by training in this environment)"
            )
    return "\n".join(lines) or None
