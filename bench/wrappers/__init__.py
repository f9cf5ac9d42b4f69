"""Tiny launchers run inside a comparator's own virtualenv (not imported by the bench)."""
