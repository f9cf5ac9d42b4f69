"""From an environment's package lists to the requirements pip or uv installs.

v1 environments describe packages the conda way and name Azure ML's serving packages; a local
environment is a virtualenv filled from PyPI and served by modelport. This module does that
translation, purely (no I/O, no processes):

- ``azureml-*`` packages (``azureml-defaults``, ``azureml-core``,
  ``azureml-inference-server-http``, ...) are dropped: modelport's own scoring server replaces
  them. ``inference-schema`` is a real package and is kept.
- conda packages are installed with pip: ``scikit-learn=1.5.2`` becomes ``scikit-learn==1.5.2``,
  ``numpy=1.26`` becomes ``numpy==1.26.*`` (conda's ``=`` is a prefix match), ``numpy>=1.20``
  stays, ``conda-forge::pkg`` loses its channel, a build string (``=py311h...``) is dropped,
  ``python=3.11`` sets the Python version, and the names in :data:`CONDA_TO_PYPI` and
  :data:`CONDA_ONLY` are renamed or skipped.

Example::

    >>> conda_to_pip("conda-forge::pytorch=2.3")
    'torch==2.3.*'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelport.errors import EnvironmentBuildError

__all__ = [
    "CONDA_ONLY",
    "CONDA_TO_PYPI",
    "Requirements",
    "canonical_name",
    "conda_to_pip",
    "is_azureml",
    "normalize_requirement",
    "python_from_conda",
    "translate",
]

#: conda package names whose PyPI distribution has another name.
CONDA_TO_PYPI: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "pytables": "tables",
    "python-graphviz": "graphviz",
}

#: conda packages that are not Python distributions on PyPI (toolchains, C libraries, conda's own
#: metapackages): skipped, with a log line. ``python`` and ``pip`` are handled on their own.
CONDA_ONLY: frozenset[str] = frozenset(
    {
        "pip",
        "python",
        "python-abi",
        "cpuonly",
        "pytorch-cuda",
        "pytorch-mutex",
        "cudatoolkit",
        "cudnn",
        "nccl",
        "blas",
        "libblas",
        "libopenblas",
        "nomkl",
        "libgcc",
        "libgcc-ng",
        "libstdcxx-ng",
        "libgomp",
        "-libgcc-mutex",
        "-openmp-mutex",
        "ca-certificates",
        "openssl",
        "libffi",
        "zlib",
        "xz",
        "sqlite",
        "tk",
        "readline",
        "ncurses",
        "vs2015-runtime",
        "vc",
    }
)

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$", re.DOTALL)
_CONDA_NAME = re.compile(r"^\s*([A-Za-z0-9_][A-Za-z0-9._-]*)(.*)$", re.DOTALL)  # "_libgcc_mutex"
_PYTHON_VERSION = re.compile(r"^(\d+)\.(\d+)")


def canonical_name(name: str) -> str:
    """The PEP 503 form of a distribution name: ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_azureml(requirement: str) -> bool:
    """Whether a requirement names one of Azure ML's packages (``azureml-defaults[...]>=1``, ...)."""
    match = _NAME.match(requirement)
    if match is None:
        return False
    name = canonical_name(match.group(1))
    return name == "azureml" or name.startswith("azureml-")


def normalize_requirement(requirement: str) -> str:
    """One spelling per requirement, so equal lists hash equally: canonical name, trimmed spaces.

    URLs, paths and other forms without a leading name are kept as given (trimmed).
    """
    text = " ".join(requirement.split())
    match = _NAME.match(text)
    if match is None or "/" in match.group(1) or text.startswith(("git+", "file:", "http:", "https:")):
        return text
    return canonical_name(match.group(1)) + match.group(2).strip()


def conda_to_pip(spec: str) -> str | None:
    """The pip requirement for one conda package spec; None for packages pip cannot install.

    >>> conda_to_pip("scikit-learn=1.5.2")
    'scikit-learn==1.5.2'
    >>> conda_to_pip("numpy>=1.20")
    'numpy>=1.20'
    >>> conda_to_pip("cudatoolkit=11.8") is None
    True
    """
    name, version = _split_conda(spec)
    pypi = CONDA_TO_PYPI.get(name, name)
    if name in CONDA_ONLY:
        return None
    return pypi + _conda_version_to_pip(spec, version)


def python_from_conda(spec: str) -> str | None:
    """``X.Y`` when ``spec`` pins Python (``python=3.11``, ``python==3.11.7``, ``python 3.11``)."""
    name, version = _split_conda(spec)
    if name != "python" or not version:
        return None
    if version.startswith(("<", ">", "!", "~")):
        return None  # a range: the running interpreter's version is as good as any
    match = _PYTHON_VERSION.match(version.lstrip("="))
    return f"{match.group(1)}.{match.group(2)}" if match else None


def _split_conda(spec: str) -> tuple[str, str]:
    """(canonical name, version part) of a conda match spec, without channel or build string."""
    text = spec.strip()
    if "::" in text:
        text = text.split("::", 1)[1]
    match = _CONDA_NAME.match(text)
    if match is None:
        raise EnvironmentBuildError(f"cannot read the conda package specification {spec!r}")
    name, rest = canonical_name(match.group(1)), match.group(2).strip()
    if rest and rest[0] not in "=<>!~":
        # "numpy 1.26.4 py311h..." is conda's spaced form: version, then an optional build string.
        rest = "=" + rest.split()[0]
    return name, rest.replace(" ", "")


def _conda_version_to_pip(spec: str, version: str) -> str:
    if not version:
        return ""
    if "|" in version:
        raise EnvironmentBuildError(f"conda package {spec!r}: '|' (either version) has no pip equivalent")
    if version.startswith("=="):
        return "==" + version[2:].split("=")[0]
    if version.startswith("="):
        # conda's "=1.26" means any 1.26.x; a trailing "=..." is a build string pip cannot use.
        exact = version[1:].split("=")[0]
        if exact.endswith("*"):
            return "==" + exact.rstrip("*").rstrip(".") + ".*"
        return "==" + exact if exact.count(".") >= 2 else "==" + exact + ".*"
    return version


@dataclass(frozen=True)
class Requirements:
    """What an environment spec asks pip to install, after translation.

    ``packages`` is sorted and deduplicated; ``python`` is ``X.Y`` from a conda ``python=`` entry
    (None if absent); ``notes`` are the log lines that explain what changed.
    """

    packages: tuple[str, ...]
    python: str | None
    replaced_azureml: tuple[str, ...]
    notes: tuple[str, ...]


def translate(env_name: str, pip_packages: tuple[str, ...], conda_packages: tuple[str, ...]) -> Requirements:
    """Translate an environment's pip and conda package lists into pip requirements."""
    packages: set[str] = set()
    azureml: list[str] = []
    converted: list[str] = []
    skipped: list[str] = []
    python: str | None = None
    for raw in pip_packages:
        if is_azureml(raw):
            azureml.append(raw.strip())
        elif raw.strip():
            packages.add(normalize_requirement(raw))
    for raw in conda_packages:
        if not raw.strip():
            continue
        if is_azureml(raw.split("::", 1)[-1]):
            azureml.append(raw.strip())
            continue
        python = python_from_conda(raw) or python
        requirement = conda_to_pip(raw)
        if requirement is None:
            if _split_conda(raw)[0] not in ("python", "pip"):
                skipped.append(raw.strip())
            continue
        packages.add(normalize_requirement(requirement))
        if requirement != raw.strip():
            converted.append(f"{raw.strip()} -> {requirement}")
    notes = []
    if azureml:
        notes.append(
            f"environment '{env_name}': replacing {', '.join(azureml)} with modelport's own scoring server"
        )
    if converted:
        notes.append(f"environment '{env_name}': conda packages installed with pip as {'; '.join(converted)}")
    if skipped:
        listed = ", ".join(skipped)
        notes.append(
            f"environment '{env_name}': skipping conda-only packages with no PyPI counterpart: {listed}"
        )
    return Requirements(tuple(sorted(packages)), python, tuple(azureml), tuple(notes))
