"""Helpers for tests and for submitters: tiny stores and contract checks."""

from facies_bench.testing.checks import CheckReport, check_submission
from facies_bench.testing.synthetic import make_tiny_store

__all__ = ["CheckReport", "check_submission", "make_tiny_store"]
