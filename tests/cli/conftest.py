"""CLI fixtures. The deployment ones (a real scikit-learn model, the environment cache) are
tests/deploy's, imported rather than defined twice."""

from __future__ import annotations

from tests.deploy.conftest import TUTORIAL_SCORE, digits_model, env_cache  # noqa: F401  (used here)
