"""Helpers for tests and for submitters: tiny stores and contract checks."""

from facies_bench.testing.synthetic import make_tiny_store

__all__ = ["make_tiny_store"]
