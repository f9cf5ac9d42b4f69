"""The curated catalog: v1's names, and pins that resolve on this Python with the server's packages."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from modelport.environments import EnvSpec
from modelport.environments.builder import SERVER_REQUIREMENTS, spec_key
from modelport.environments.curated import CURATED, curated_spec, is_curated
from modelport.environments.installers import find_uv, pip_config_for_uv


def test_names_are_v1s_and_case_insensitive() -> None:
    assert is_curated("AzureML-Minimal") and is_curated("azureml-minimal")
    assert not is_curated("AzureML-NoSuchThing") and not is_curated(None)
    spec = curated_spec("azureml-sklearn-1.0-ubuntu20.04-py38-cpu")
    assert spec["name"] == "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu" and spec["curated"] is True
    assert spec["pip_packages"][0] == "scikit-learn==1.1.3" and "no wheel" in spec["note"]
    assert curated_spec("AzureML-Minimal")["pip_packages"] == []
    # Equal package lists share one virtualenv, whatever the curated name.
    a, b = (
        EnvSpec.from_dict(curated_spec(n)) for n in ("AzureML-PyTorch-1.6-CPU", "AzureML-PyTorch-1.6-GPU")
    )
    assert spec_key(a) == spec_key(b)


@pytest.mark.process
def test_every_entry_resolves_on_this_python() -> None:
    """Each entry's pins with the server's requirements, resolved by uv for this interpreter
    (metadata only, nothing installed): a pin that cannot install here fails this test."""
    uv = find_uv()
    assert uv is not None
    flags, extra_env = pip_config_for_uv([], {})
    distinct = {entry.pip_packages for entry in CURATED.values()}
    for packages in sorted(distinct):
        requirements = "\n".join([*packages, *SERVER_REQUIREMENTS]) + "\n"
        proc = subprocess.run(
            [uv, "pip", "compile", "-", "--quiet", "--no-header", "--python", sys.executable, *flags],
            input=requirements,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**os.environ, **extra_env},
        )
        assert proc.returncode == 0, f"{packages}: {proc.stderr}"
        for pin in packages:
            assert pin.lower() in proc.stdout.lower(), (pin, proc.stdout)


def test_a_conflict_among_the_users_own_pins_does_not_blame_the_server() -> None:
    from modelport.environments.diagnose import diagnose_failure

    uv_said = (
        "error: No solution found when resolving dependencies:\n  cause: Because you require numpy==1.26.4 "
        "and numpy==2.0.0, we can conclude that your requirements are unsatisfiable."
    )
    args = {"python_version": "3.11", "python": None, "uv": None}
    assert (
        diagnose_failure(uv_said, user=("numpy==1.26.4", "numpy==2.0.0"), server=SERVER_REQUIREMENTS, **args)
        is None
    )
    uv_said = uv_said.replace("numpy==1.26.4 and numpy==2.0.0", "psutil==5.0.0 and psutil>=5.9")
    message = diagnose_failure(uv_said, user=("psutil==5.0.0",), server=SERVER_REQUIREMENTS, **args)
    assert message is not None
    needs = "conflict with what modelport's scoring server needs: psutil>=5.9 (uv: Because"
    assert message.startswith(f"your pin(s) psutil==5.0.0 {needs}")
