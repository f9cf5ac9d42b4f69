"""The curated catalog: v1's names, and pins that resolve on this Python with the server's packages."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from modelport.environments import EnvSpec, pins
from modelport.environments.builder import SERVER_REQUIREMENTS, spec_key
from modelport.environments.curated import CURATED, curated_spec, is_curated
from modelport.environments.installers import find_uv, pip_config_for_uv


def test_names_are_v1s_and_case_insensitive() -> None:
    assert is_curated("AzureML-Minimal") and is_curated("azureml-minimal")
    assert not is_curated("AzureML-NoSuchThing") and not is_curated(None)
    spec = curated_spec("azureml-sklearn-1.0-ubuntu20.04-py38-cpu")
    assert spec["name"] == "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu" and spec["curated"] is True
    # v1's pins and Python, as the image had them: the pin policy replaces them at build time.
    assert spec["pip_packages"][0] == "scikit-learn==1.0.2" and spec["python_version"] == "3.8"
    assert curated_spec("AzureML-Minimal")["pip_packages"] == []
    # Equal package lists share one virtualenv, whatever the curated name.
    a, b = (
        EnvSpec.from_dict(curated_spec(n)) for n in ("AzureML-PyTorch-1.6-CPU", "AzureML-PyTorch-1.6-GPU")
    )
    assert spec_key(a) == spec_key(b)


@pytest.mark.process
def test_every_entry_resolves_on_this_python() -> None:
    """Each entry's pins, through the pin policy's choice (what has no wheel here replaced by the
    nearest release that installs, chosen by uv), resolve with the server's requirements for this
    interpreter (metadata only, nothing installed)."""
    uv = find_uv()
    assert uv is not None
    flags, extra_env = pip_config_for_uv([], {})
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    chosen: dict[str, str] = {}
    for packages in sorted({entry.pip_packages for entry in CURATED.values()}):
        probe = pins.Probe(uv, sys.executable, python, tuple(flags), extra_env)
        missing = pins.without_wheels([p for p in packages if pins.exact_pin(p)], probe)
        selection = pins.select_nearest(missing, packages, SERVER_REQUIREMENTS, probe)
        replaced = {r.asked: f"{r.name}=={r.version}" for r in selection.replacements}
        chosen.update(replaced)
        effective = [replaced.get(p, p) for p in packages]
        held = [f"{n}=={v}" for n, v in selection.held.items()]
        requirements = "\n".join([*effective, *SERVER_REQUIREMENTS, *held]) + "\n"
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
        for pin in effective:
            assert pin.lower() in proc.stdout.lower(), (pin, proc.stdout)
    # scikit-learn 0.20-1.0 have no wheel for 3.11: 1.1.3 is the oldest that has, with numpy 1.26.
    assert chosen["scikit-learn==0.24.1"] == chosen["scikit-learn==1.0.2"] == "scikit-learn==1.1.3"
    assert chosen["tensorflow==2.3.0"].startswith("tensorflow==2.")


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
