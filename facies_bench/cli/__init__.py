"""Command-line interface (``facies-bench``)."""
