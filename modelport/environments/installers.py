"""The processes that build a virtualenv: uv (the default) or ``venv`` + pip (the fallback).

Every command's output (stdout and stderr, interleaved) is kept: a failure raises
:class:`~modelport.errors.EnvironmentBuildError` with that output as its ``log``.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from modelport.environments.bytecode import compile_site_packages
from modelport.environments.progress import steps_of
from modelport.errors import EnvironmentBuildError

__all__ = [
    "BuiltVenv",
    "build_venv",
    "find_python",
    "find_uv",
    "pip_config_for_uv",
    "relocate",
    "run",
    "summarize",
    "venv_python",
]


@dataclass(frozen=True)
class BuiltVenv:
    """A virtualenv that :func:`build_venv` filled: how, from what, and what it holds."""

    base_interpreter: str
    tool: str
    installed: dict[str, str]
    log: str


def build_venv(
    target: Path,
    *,
    python: str,
    requirements: Sequence[str],
    pip_options: Sequence[str],
    source_root: str,
    uv: str | None,
    cwd: Path,
    timeout: float,
    log: Callable[[str], None] = print,
    bytecode_store: Path | None = None,
    constraints: Sequence[str] = (),
) -> BuiltVenv:
    """Create a virtualenv at ``target`` for Python ``python`` (``X.Y``) and install into it.

    With ``uv``: ``uv venv --relocatable``, one ``uv pip install`` (pip's configuration passed
    on, see :func:`pip_config_for_uv`), then bytecode from ``bytecode_store`` or compiled (see
    :mod:`~modelport.environments.bytecode`); without: ``python -m venv`` then the venv's own pip,
    which reads its configuration itself (and compiles bytecode by default). Then modelport is made
    importable from ``source_root`` and the result checked by importing it. ``log`` hears each
    phase as it happens: resolve, download, install, compile. ``constraints`` (``name==version``)
    bound versions without asking for the packages (kept in the venv as ``modelport-constraints.txt``).
    """
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    # modelport never downloads a Python: it uses one installed on this machine or fails.
    env["UV_PYTHON_DOWNLOADS"] = "never"
    base = find_python(python, uv, env, cwd)
    venv = venv_python(target)
    logs: list[str] = []
    progress = _Progress(log)
    if uv is not None:
        create = [uv, "venv", "--no-project", "--relocatable", "--python", base, str(target)]
        logs.append(run(create, what="creating the virtualenv", env=env, cwd=cwd, timeout=timeout))
        flags, extra_env = pip_config_for_uv(pip_options, env)
        log(f"resolve: {len(requirements)} requirement(s)")
        # Bytecode comes after (compile_site_packages), from the store where it can.
        install = [uv, "pip", "install", "--python", str(venv), *flags, *pip_options, *requirements]
        install += _constraint_args(target, constraints)
        logs.append(
            run(
                install,
                what="installing packages",
                env={**env, **extra_env},
                cwd=cwd,
                timeout=timeout,
                on_line=progress,
            )
        )
        tag = "cpython-" + python.replace(".", "")
        store = bytecode_store if bytecode_store is not None else target.parent / ".bytecode"
        stats = compile_site_packages(venv, _site_packages(target), store, tag, log, timeout)
        logs.append(
            f"bytecode: {stats.reused} distribution(s) reused, {stats.compiled} compiled "
            f"({stats.files_compiled} files) in {stats.seconds:.2f} s"
        )
    else:
        create = [base, "-m", "venv", str(target)]
        logs.append(run(create, what="creating the virtualenv", env=env, cwd=cwd, timeout=timeout))
        pip = ["-m", "pip", "install", "--no-input", "--disable-pip-version-check", "--progress-bar", "off"]
        install = [str(venv), *pip, *pip_options, *requirements, *_constraint_args(target, constraints)]
        log(f"resolve, download, install and compile: {len(requirements)} requirement(s) with pip")
        logs.append(
            run(install, what="installing packages", env=env, cwd=cwd, timeout=timeout, on_line=progress)
        )
    site_packages = _site_packages(target)
    _install_source_finder(site_packages, source_root)
    check = [str(venv), "-I", "-c", "import modelport"]
    logs.append(
        run(check, what="importing modelport in the new virtualenv", env=env, cwd=cwd, timeout=timeout)
    )
    return BuiltVenv(
        base, "uv" if uv is not None else "venv + pip", _installed(site_packages), "\n".join(logs)
    )


def _constraint_args(target: Path, constraints: Sequence[str]) -> list[str]:
    if not constraints:
        return []
    path = target / "modelport-constraints.txt"
    path.write_text("".join(f"{c}\n" for c in constraints))
    return ["-c", str(path)]


class _Progress:
    """Turns an installer's output lines into phase lines for ``log`` (uv's and pip's wording):
    milestones (resolved, downloads prepared, a package built from source, installed) as lines,
    each download as a step (a status line on a terminal only: see
    :mod:`~modelport.environments.progress`).

    uv prints no progress bar when its output is not a terminal, but it does name each large
    download as it starts and ends; those become a count of downloads in flight and done.
    """

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.step = steps_of(log)
        self.started = 0
        self.done = 0

    def __call__(self, line: str) -> None:
        text = line.strip()
        if text.startswith("Resolved "):
            self.log(f"resolve: {text[len('Resolved ') :]}")
        elif text.startswith("Downloading "):  # uv: "Downloading numpy (16.1MiB)"
            self.started += 1
            self.step(f"download: {text[len('Downloading ') :]} started [{self.done}/{self.started} done]")
        elif text.startswith("Downloaded "):
            self.done += 1
            self.step(f"download: {text[len('Downloaded ') :]} [{self.done}/{self.started} done]")
        elif text.startswith("Prepared "):
            self.log(f"download: prepared {text[len('Prepared ') :]}")
        elif text.startswith(("Building ", "Built ")):
            self.log(f"build: {text}")
        elif text.startswith("Installed ") or text.startswith("Successfully installed"):
            self.log(f"install: {text}")
        elif text.startswith(("Collecting ", "Using cached ")):  # pip
            self.step(f"download: {text}")
        elif text.startswith("Installing collected packages"):
            self.log(f"install: {text}")


def find_uv() -> str | None:
    """The uv executable: the one shipped by the ``uv`` Python package, else ``uv`` on PATH."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def venv_python(env_dir: Path) -> Path:
    """The interpreter inside a virtualenv folder."""
    if os.name == "nt":
        return env_dir / "Scripts" / "python.exe"
    return env_dir / "bin" / "python"


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    what: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """Run ``cmd``; return its output, or raise EnvironmentBuildError("<what> failed: ...").

    ``on_line`` hears each line of output as the command prints it (installs take long enough
    that their progress must show live, not all at once at the end).
    """
    shown = " ".join(str(c) for c in cmd)
    lines: list[str] = []
    try:
        proc = subprocess.Popen(
            [str(c) for c in cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    except OSError as exc:
        raise EnvironmentBuildError(f"{what} failed: {exc}", f"$ {shown}\n{exc}") from None

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reader.join(5)
        out = "".join(lines)
        raise EnvironmentBuildError(f"{what} timed out after {timeout:.0f} s", f"$ {shown}\n{out}") from None
    finally:
        reader.join(5)
    out = "".join(lines)
    log = f"$ {shown}\n{out}"
    if proc.returncode != 0:
        raise EnvironmentBuildError(f"{what} failed: {summarize(out)}", log)
    return log


def summarize(output: str, limit: int = 600) -> str:
    """The lines of an installer's output that say what went wrong, on one line."""
    box = " \t│╰─▶\u00d7"  # uv draws its errors in a box
    lines = [line.strip(box) for line in output.splitlines()]
    lines = [line for line in lines if line]
    errors = [
        i
        for i, line in enumerate(lines)
        if line.lower().startswith(("error", "because", "no solution", "hint"))
    ]
    picked = lines[errors[0] :] if errors else lines[-3:]
    text = " ".join(picked)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def find_python(version: str, uv: str | None, env: Mapping[str, str], cwd: Path) -> str:
    """An interpreter for Python ``version`` (``X.Y``) installed on this machine; never downloads one.

    Asks uv (it knows its managed Pythons and PATH), then pyenv (whose shims uv cannot query for
    versions that are installed but not selected), then ``pythonX.Y`` on PATH.
    """
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    tried: list[str] = []
    if uv is not None:
        proc = _quiet([uv, "python", "find", "--no-project", version], env, cwd)
        if proc is not None and proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip().splitlines()[-1]
        tried.append(f"uv python find {version}: {proc.stdout.strip() if proc else 'did not run'}")
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        proc = _quiet([pyenv, "prefix", version], env, cwd)
        if proc is not None and proc.returncode == 0:
            for prefix in proc.stdout.split():
                candidate = Path(prefix) / "bin" / f"python{version}"
                if _reports_version(candidate, version, env):
                    return str(candidate)
        tried.append(f"pyenv prefix {version}: {proc.stdout.strip() if proc else 'did not run'}")
    candidate_name = shutil.which(f"python{version}")
    if candidate_name is not None and _reports_version(Path(candidate_name), version, env):
        return candidate_name
    tried.append(f"python{version} on PATH: {candidate_name or 'not found'}")
    raise EnvironmentBuildError(
        f"Python {version} is not installed on this machine and modelport does not download Python: "
        f"install it (e.g. `uv python install {version}`) or leave python_version unset",
        "\n".join(tried),
    )


def _quiet(cmd: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=dict(env),
            cwd=cwd,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def _reports_version(python: Path, version: str, env: Mapping[str, str]) -> bool:
    if not python.exists():
        return False
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    proc = _quiet([str(python), "-c", code], env, python.parent)
    return proc is not None and proc.returncode == 0 and proc.stdout.strip() == version


# pip settings uv also understands, with the uv environment variables that take precedence over them.
_PIP_TO_UV: dict[str, tuple[str, tuple[str, ...]]] = {
    "index-url": ("--index-url", ("UV_INDEX_URL", "UV_DEFAULT_INDEX")),
    "extra-index-url": ("--extra-index-url", ("UV_EXTRA_INDEX_URL", "UV_INDEX")),
    "find-links": ("--find-links", ("UV_FIND_LINKS",)),
    "trusted-host": ("--allow-insecure-host", ("UV_INSECURE_HOST",)),
}


def pip_config_for_uv(
    spec_options: Sequence[str], environ: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """uv flags and environment variables carrying this machine's pip configuration.

    uv reads neither ``pip.conf`` nor ``PIP_*`` variables, so an index configured for pip would be
    invisible to it. pip's own ``pip config list`` (files and ``PIP_*`` variables, merged by pip's
    precedence) is translated; settings already given through ``UV_*`` variables or the
    environment's own pip options win. When more than one index results, uv is told to pick the
    best version across them (``--index-strategy unsafe-best-match``), which is what pip does.
    """
    settings = _pip_config(environ)
    flags: list[str] = []
    extra_env: dict[str, str] = {}
    for name, (flag, uv_vars) in _PIP_TO_UV.items():
        value = settings.get(name)
        if not value or any(environ.get(v) for v in uv_vars):
            continue
        if name == "index-url" and _has_option(
            spec_options, ("--index-url", "-i", "--default-index", "--no-index")
        ):
            continue
        for item in value.split():
            flags += [flag, item]
    if settings.get("no-index", "").lower() in ("1", "true", "yes", "on") and not environ.get("UV_NO_INDEX"):
        flags.append("--no-index")
    if settings.get("cert") and not environ.get("SSL_CERT_FILE"):
        extra_env["SSL_CERT_FILE"] = settings["cert"]
    several_indexes = "--extra-index-url" in flags or _has_option(spec_options, ("--extra-index-url",))
    if several_indexes and not environ.get("UV_INDEX_STRATEGY"):
        flags += ["--index-strategy", "unsafe-best-match"]
    return flags, extra_env


def _has_option(options: Sequence[str], names: tuple[str, ...]) -> bool:
    return any(o == n or o.startswith(n + "=") for o in options for n in names)


def _pip_config_files(environ: Mapping[str, str]) -> list[Path]:
    """Where pip looks for its configuration on this machine (pip's docs, "Configuration")."""
    home = Path(environ.get("HOME") or Path.home())
    xdg_dirs = (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
    xdg_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    files = [Path("/etc/pip.conf"), *(Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d)]
    files += [home / ".pip" / "pip.conf", xdg_home / "pip" / "pip.conf", Path(sys.prefix) / "pip.conf"]
    if environ.get("PIP_CONFIG_FILE"):
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    return files


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


# `pip config list` costs ~0.5-1.5 s (importing pip), every build: its answer is kept for as long as
# the PIP_* variables and pip's configuration files are unchanged.
_PIP_CONFIG_CACHE: dict[tuple[object, ...], dict[str, str]] = {}


def _pip_config(environ: Mapping[str, str]) -> dict[str, str]:
    """pip's effective settings for ``pip install``: ``{"index-url": ..., ...}``; empty without pip."""
    if importlib.util.find_spec("pip") is None:
        return {}
    key = (
        tuple(sorted((k, v) for k, v in environ.items() if k.startswith(("PIP_", "XDG_")) or k == "HOME")),
        tuple((str(f), _mtime(f)) for f in _pip_config_files(environ)),
    )
    if key not in _PIP_CONFIG_CACHE:
        _PIP_CONFIG_CACHE[key] = _read_pip_config(environ)
    return dict(_PIP_CONFIG_CACHE[key])


def _read_pip_config(environ: Mapping[str, str]) -> dict[str, str]:
    proc = _quiet([sys.executable, "-m", "pip", "config", "list"], environ, Path.cwd())
    if proc is None or proc.returncode != 0:
        return {}
    # pip prints "section.name='value'"; environment variables show as ":env:.name". Precedence
    # (lowest first): [global], [install], environment.
    rank = {"global": 0, "install": 1, ":env:": 2}
    best: dict[str, tuple[int, str]] = {}
    for line in proc.stdout.splitlines():
        key, sep, raw = line.partition("=")
        section, _, name = key.rpartition(".")
        if not sep or section not in rank:
            continue
        try:
            value = str(ast.literal_eval(raw))
        except (ValueError, SyntaxError):
            value = raw.strip("'\"")
        if name not in best or rank[section] >= best[name][0]:
            best[name] = (rank[section], value)
    return {name: value for name, (_, value) in best.items()}


def _site_packages(env_dir: Path) -> Path:
    found = sorted(env_dir.glob("lib/python*/site-packages")) or sorted(env_dir.glob("Lib/site-packages"))
    if not found:
        raise EnvironmentBuildError(f"the new virtualenv {env_dir} has no site-packages folder")
    return found[0]


_FINDER = '''\
"""Written by modelport: `import modelport` loads the deployer's source tree, and nothing else from it."""
import importlib.machinery
import sys

ROOT = {root!r}


class ModelportSource:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "modelport":
            return importlib.machinery.PathFinder.find_spec(name, [ROOT])
        return None


sys.meta_path.insert(0, ModelportSource)
'''


def _install_source_finder(site_packages: Path, source_root: str) -> None:
    """Make the venv import modelport from ``source_root``, the folder holding the package.

    A .pth line naming ``source_root`` would do it, but would also expose everything else there
    (``tests/`` of a checkout, or every package of a site-packages folder), breaking isolation; the
    .pth imports a finder that maps the one name ``modelport`` to that folder instead.
    """
    (site_packages / "_modelport_source.py").write_text(_FINDER.format(root=source_root))
    (site_packages / "_modelport_source.pth").write_text("import _modelport_source\n")


def relocate(built: Path, final: Path) -> None:
    """Point the scripts of a venv built in ``built`` at ``final``, where it is about to be renamed.

    uv's ``--relocatable`` venvs need nothing; ``python -m venv`` and pip write absolute paths
    into script shebangs and activation scripts.
    """
    old, new = str(built).encode(), str(final).encode()
    for path in [*venv_python(built).parent.iterdir(), built / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if old in data:
            path.write_bytes(data.replace(old, new))


def _installed(site_packages: Path) -> dict[str, str]:
    dists = importlib.metadata.distributions(path=[str(site_packages)])
    return dict(sorted((d.metadata["Name"], d.version) for d in dists if d.metadata["Name"]))
