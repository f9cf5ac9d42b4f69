"""modelport's side-by-side benchmark: ``python -m bench.run`` (see docs/performance.md)."""
