"""``facies-bench spec``: print the benchmark specification."""

from __future__ import annotations

import json

import typer

from facies_bench.spec import benchmark_spec, format_spec


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    @app.command("spec")
    def spec(as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON.")) -> None:
        """Print the benchmark specification: classes, features, feature sets, folds, metrics, protocol."""
        spec = benchmark_spec()
        typer.echo(json.dumps(spec, indent=2) if as_json else format_spec(spec))
