"""Bytecode for a new virtualenv: compiled once per installed distribution, then shared.

Byte-compiling is most of a build: for scikit-learn (with scipy and numpy) uv installs in ~0.3 s
from its cache, then compiling ~3,000 files takes 12-17 s on 2 cores. Skipping it only moves the
cost to every service's first start. So each distribution's ``.pyc`` files are kept in a store
beside the environments and hard-linked into the next virtualenv that installs the same
distribution::

    <store>/cpython-311/<name>-<version>-<digest>/<path inside site-packages>/__pycache__/*.pyc

``digest`` covers the distribution's RECORD (every file with its hash) and the modification time
of its first module. Python checks a ``.pyc`` against its source's size and modification time
when it imports it; uv hard-links every virtualenv's files from its own cache, so the sources of
one distribution have the same times in every environment and a stored ``.pyc`` is valid in all of
them. Were a source different (its cache was rebuilt), Python would see it and compile the
module again on import: a stale store costs time, never correctness. When uv copies instead of
linking (its cache on another file system), nothing is stored. Python
writes a ``.pyc`` by renaming a new file over the old one, so a linked file is never changed in
place. Test folders are not compiled (nothing imports them when serving).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelport.environments.progress import bar, steps_of
from modelport.errors import EnvironmentBuildError

__all__ = ["CompileStats", "compile_site_packages"]

_WORKER = Path(__file__).with_name("_compile_worker.py")
_TESTS = re.compile(r"(^|/)(tests?|testing)/")


@dataclass(frozen=True)
class CompileStats:
    """What :func:`compile_site_packages` did: distributions reused from the store or compiled."""

    reused: int
    compiled: int
    files_compiled: int
    seconds: float


@dataclass(frozen=True)
class _Dist:
    name: str
    key: str
    sources: tuple[str, ...]  # module paths relative to site-packages, posix
    linked: bool  # its sources are hard links into uv's cache (so their times are the cache's)


def _dists(site_packages: Path) -> list[_Dist]:
    found = []
    for info in sorted(site_packages.glob("*.dist-info")):
        record = info / "RECORD"
        try:
            data = record.read_bytes()
        except OSError:
            continue
        sources = []
        for line in data.decode(errors="replace").splitlines():
            path = line.rsplit(",", 2)[0]
            if path.endswith(".py") and not path.startswith(("..", "/")) and not _TESTS.search(path):
                sources.append(path)
        sources.sort()
        digest = hashlib.sha256(data)
        linked = False
        if sources:
            try:
                first = (site_packages / sources[0]).stat()
            except OSError:
                continue
            digest.update(str(first.st_mtime_ns).encode())
            linked = first.st_nlink > 1
        name = info.name[: -len(".dist-info")]
        found.append(_Dist(name, f"{name}-{digest.hexdigest()[:16]}", tuple(sources), linked))
    return found


def _pyc(source: str, tag: str) -> str:
    folder, _, file = source.rpartition("/")
    pyc = f"__pycache__/{file[:-3]}.{tag}.pyc"
    return f"{folder}/{pyc}" if folder else pyc


def _link_tree(src: Path, dst: Path) -> None:
    for path in src.rglob("*.pyc"):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except FileExistsError:
            pass
        except OSError:  # another file system: copy
            shutil.copy2(path, target)


def compile_site_packages(
    python: Path,
    site_packages: Path,
    store: Path,
    tag: str,
    log: Callable[[str], None],
    timeout: float,
) -> CompileStats:
    """Give every module in ``site_packages`` its bytecode: linked from ``store``, else compiled
    with ``python`` (whose cache tag is ``tag``, e.g. ``cpython-311``) and then stored."""
    started = time.monotonic()
    store = store / tag
    dists = _dists(site_packages)
    reused = [d for d in dists if (store / d.key).is_dir()]
    missing = [d for d in dists if not (store / d.key).is_dir() and d.sources]
    for dist in reused:
        _link_tree(store / dist.key, site_packages)
    total = sum(len(d.sources) for d in missing)
    log(
        f"compile: bytecode of {len(reused)} package(s) reused, {len(missing)} to compile ({total} files)"
        if missing
        else f"compile: bytecode of all {len(reused)} package(s) reused"
    )
    if missing:
        _compile(python, site_packages, missing, total, log, timeout)
        store.mkdir(parents=True, exist_ok=True)
        for dist in missing:
            # Copied sources (uv's cache on another file system) have this venv's own times: a
            # stored copy would never be valid elsewhere, so none is kept.
            if dist.linked:
                _save(dist, site_packages, store, tag)
    return CompileStats(len(reused), len(missing), total, time.monotonic() - started)


def _compile(
    python: Path,
    site_packages: Path,
    dists: list[_Dist],
    total: int,
    log: Callable[[str], None],
    timeout: float,
) -> None:
    jobs = [[d.key, [str(site_packages / s) for s in d.sources]] for d in dists]
    names = {d.key: d.name for d in dists}
    sizes = {d.key: len(d.sources) for d in dists}
    step = steps_of(log)
    started = time.monotonic()
    done = 0
    proc = subprocess.Popen(
        [str(python), "-I", str(_WORKER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=site_packages,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(jobs))
    proc.stdin.close()
    deadline = time.monotonic() + timeout
    output = []
    for line in proc.stdout:
        output.append(line)
        parts = line.split()
        if len(parts) == 4 and parts[0] == "done" and parts[1] in sizes:
            done += sizes[parts[1]]
            step(f"compile: {bar(done, total)} files {names[parts[1]]} ({sizes[parts[1]]} files)")
        if time.monotonic() > deadline:
            proc.kill()
            break
    code = proc.wait()
    if code != 0:
        raise EnvironmentBuildError(f"byte-compiling the packages failed (exit {code})", "".join(output))
    log(f"compile: {total} files of {len(dists)} package(s) compiled in {time.monotonic() - started:.1f} s")


def _save(dist: _Dist, site_packages: Path, store: Path, tag: str) -> None:
    """Copy ``dist``'s new bytecode into the store, whole or not at all (a rename publishes it)."""
    tmp = store / f".tmp-{dist.key}-{secrets.token_hex(4)}"
    try:
        for source in dist.sources:
            pyc = _pyc(source, tag)
            if not (site_packages / pyc).is_file():
                continue
            target = tmp / pyc
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(site_packages / pyc, target)
            except OSError:
                shutil.copy2(site_packages / pyc, target)
        tmp.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, store / dist.key)
    except OSError:
        pass  # another build stored it first, or the store is not writable: the venv is complete
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
