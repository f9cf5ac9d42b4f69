"""Environments become interpreters: cached virtualenvs built with uv, keyed by the spec's hash.

Example::

    from modelport.environments import EnvSpec, resolve_interpreter

    spec = EnvSpec.from_dict(environment.to_spec())
    python = resolve_interpreter(spec, cache_root)   # builds once, then returns in milliseconds
"""

from __future__ import annotations

from modelport.environments.builder import EnvSpec, cached_interpreter, resolve_interpreter, spec_key

__all__ = ["EnvSpec", "cached_interpreter", "resolve_interpreter", "spec_key"]
