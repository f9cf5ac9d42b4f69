"""What ``scripts/test.sh`` prints besides results (issue 19: 109 deprecation warnings and a
~150-line JSON dump). Each check runs the real pytest, with the repository's configuration, on a
small test file made here, and reads what it printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parent.parent


def _pytest(test_file: Path, *args: str) -> str:
    config = ["-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT), "-p", "no:cacheprovider"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *config, "-q", *args, str(test_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


RAY_DEPLOYMENT = """
from ray import serve

from modelport.core.webservice import AksWebservice
from modelport.deploy.targets.ray import deployment_options

class Replica:
    def __init__(self, settings):
        self.settings = settings

def test_an_autoscaling_deployment():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # AKS deploys locally: said elsewhere
        settings = AksWebservice.deploy_configuration(
            autoscale_enabled=True, autoscale_min_replicas=1, autoscale_max_replicas=3
        ).to_dict()
    options = deployment_options(settings)
    assert "autoscaling_config" in options
    serve.deployment(name="score", **options)(Replica).bind({})
"""


def test_a_ray_deployment_warns_of_nothing(tmp_path: Path) -> None:
    """Importing Ray Serve (its own pydantic deprecations) and building an autoscaling
    deployment as the Ray target does (``metrics_interval_s``) print no warning."""
    test_file = tmp_path / "test_ray_deployment.py"
    test_file.write_text(RAY_DEPLOYMENT)
    out = _pytest(test_file)
    assert "1 passed" in out and "warning" not in out.lower(), out


def test_the_check_sees_warnings_without_the_filters(tmp_path: Path) -> None:
    """The same run with no filter configured: the check above can fail."""
    test_file = tmp_path / "test_ray_deployment.py"
    test_file.write_text(RAY_DEPLOYMENT)
    out = _pytest(test_file, "-o", "filterwarnings=")
    assert "1 passed, 19 warnings" in out and "metrics_interval_s" in out, out


def test_the_reason_for_filtering_metrics_interval_s_still_holds() -> None:
    """Filtered, not fixed, because Ray does not yet read the variables that replace the field:
    once its router stops using ``metrics_interval_s``, set those variables instead and drop
    the field (modelport/deploy/targets/ray.py) and the filter (pyproject.toml)."""
    import ray.serve._private.router as router

    from modelport.deploy.targets.ray import deployment_options

    assert "autoscaling_config.metrics_interval_s" in Path(router.__file__).read_text()
    options = deployment_options({"autoscale_enabled": True, "autoscale_refresh_seconds": 1})
    assert options["autoscaling_config"]["metrics_interval_s"] == 1.0


FIGURES = """
def test_records_a_figure(figures):
    figures["example"] = {"rows": list(range(100)), "nested": {"a": 1, "b": [1, 2, 3]}}
"""


def test_the_reliability_figures_are_one_line_not_a_json_dump(tmp_path: Path) -> None:
    test_file = tmp_path / "test_figures.py"
    test_file.write_text(FIGURES)
    out = _pytest(test_file, "-p", "tests.reliability.conftest")
    figures_line = [line for line in out.splitlines() if "reliability figures" in line]
    assert len(figures_line) == 1 and "reliability.json" in figures_line[0], out
    assert '"rows"' not in out and len(out.splitlines()) < 10, out
