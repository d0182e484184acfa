"""``facies-bench models list`` and ``facies-bench import-keras``."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    models_app = typer.Typer(help="Registered models (baselines, test models, entry-point plug-ins).", no_args_is_help=True)
    app.add_typer(models_app, name="models")

    @models_app.command("list")
    def list_cmd(
        submissions: list[str] = typer.Argument(None, help="Submission files or modules to load first (e.g. baselines/*.py)."),
        pattern: str = typer.Option(None, "--pattern", "-p", help="Glob on the model names, e.g. 'cnn_*'."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON."),
    ) -> None:
        """List registered models: name, kind, default hyperparameters, recipe overrides."""
        from facies_bench.models import get_model_entry, import_submission, list_models

        for submission in submissions or []:
            import_submission(submission)
        entries = [get_model_entry(name) for name in list_models(pattern)]
        if as_json:
            typer.echo(json.dumps([e.to_dict() for e in entries], indent=2, default=str))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="Registered models")
        for column in ("name", "kind", "hparams", "recipe", "description"):
            table.add_column(column, overflow="fold")
        for e in entries:
            table.add_row(e.name, e.kind, json.dumps(dict(e.hparams)), json.dumps(dict(e.recipe)), e.description)
        Console().print(table)

    @app.command("import-keras")
    def import_keras(
        weights: Path = typer.Argument(..., help="The authors' Keras weights (.h5, e.g. fs4/fold0_after.h5)."),
        output: Path = typer.Option(..., "--output", "-o", help="Checkpoint to write (MODEL.pt)."),
        features: str = typer.Option(None, "--features", "-f", help="Feature set 1-4 (default: from the file's channel count)."),
        norm_stats: str = typer.Option(None, "--norm-stats", help="'published' (the authors' min/max as estimated from their weights), a facies store or a JSON {\"min\": [...], \"max\": [...]}; default: inputs already normalised."),
    ) -> None:
        """Convert published Keras weights into a checkpoint for facies_bench.load_model."""
        from facies_bench.models import count_parameters, import_keras_weights, save_checkpoint

        model = import_keras_weights(weights, features=features, norm_stats=norm_stats)
        save_checkpoint(model, output)
        norm = "identity (inputs already normalised)" if model.normalised_input else f"min-max from {norm_stats}"
        typer.echo(f"wrote {output}: {model.model_name}, {count_parameters(model.backbone):,} parameters, "
                   f"features {', '.join(model.features)}, normalisation {norm}")
