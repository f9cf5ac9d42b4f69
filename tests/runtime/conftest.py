"""Runtime helpers: the fake scoring scripts (tests/scripts) and loading one without a server."""

from __future__ import annotations

from pathlib import Path

from modelport.runtime import ScoringScript, ScriptLocation

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def script(name: str) -> Path:
    """A fake scoring script from tests/scripts."""
    return SCRIPTS / name


def location(path: Path) -> ScriptLocation:
    """Where a script in a folder of its own lives (no model dir)."""
    return ScriptLocation(path, None, path.parent, None)


def load(path: Path) -> ScoringScript:
    """Load a script and call its init()."""
    loaded = ScoringScript.load(location(path))
    loaded.init()
    return loaded
