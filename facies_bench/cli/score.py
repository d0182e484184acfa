"""``facies-bench score``: score a predictions file and write the evaluation report; ``compare``: A against B."""

from __future__ import annotations

from pathlib import Path

import typer


def _print_summary(report, outdir: Path) -> None:
    """Every summary metric of the metric table, then the coverage and calibration notes."""
    from facies_bench.cli._render import console, metric_rows, table
    from facies_bench.evaluation.metric_table import METRICS

    d = report.to_dict()
    title = f"{d['provenance']['store'].get('name')} · variant {d['provenance']['variant']} · n = {d['coverage']['n_scored']}"
    console.print(table(title, ["metric", "%"], metric_rows(report.summary(), [m for m in METRICS if m.in_summary])))
    for note in (d["coverage"]["note"], d["calibration"]["note"]):
        if note:
            console.print(f"[yellow]{note}[/yellow]")
    console.print(f"report written to {outdir}")


def _print_comparison(comparison) -> None:
    """A − B per metric with its paired interval, then macro-F1 per fold."""
    from facies_bench.cli._render import console, table
    from facies_bench.evaluation.metric_table import format_percent, get_metric

    rows = [[get_metric(key).title, format_percent(m.a), format_percent(m.b), format_percent(m.difference),
             f"[{format_percent(m.low)}, {format_percent(m.high)}]", format_percent(m.share_a_ahead, digits=0)]
            for key, m in comparison.metrics.items()]
    console.print(f"A: {comparison.source_a}\nB: {comparison.source_b}", soft_wrap=True, highlight=False)
    title = (f"{comparison.n_samples} samples, {comparison.n_glaciers} glaciers, "
             f"{comparison.n_resamples} paired glacier resamples")
    console.print(table(title, ["metric (%)", "A", "B", "A − B", f"{comparison.confidence:.0%} interval",
                                "resamples A ahead"], rows))
    folds = [[fold, format_percent(a), format_percent(b)] for fold, (a, b) in comparison.by_fold.items()]
    console.print(table("Macro-F1 by test fold (%)", ["fold", "A", "B"], folds))


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    @app.command("score")
    def score(
        predictions: Path = typer.Argument(..., help="Predictions file (.parquet, .npz or .csv): sample_id + p_ice ... p_cloud."),
        store: str = typer.Option(..., "--store", help="Store path or URL the predictions refer to."),
        variant: str = typer.Option("raw", "--variant", help="Label variant: raw (all samples) or a cleaned variant (its unpruned samples)."),
        validation_predictions: Path = typer.Option(None, "--validation-predictions",
                                                    help="Fold models' validation predictions (with model_fold), to fit the calibrators."),
        bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Glacier bootstrap resamples for the 95 % intervals (0 skips)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
        save_calibrators: Path = typer.Option(None, "--save-calibrators", help="Also write the fitted calibrators (JSON) here."),
        output: Path = typer.Option(..., "--output", "-o", help="Report directory (report.json, report.md, PNGs)."),
    ) -> None:
        """Score out-of-sample predictions: every metric of the paper, into OUTDIR."""
        from facies_bench.data.store import open_store
        from facies_bench.evaluation import evaluate_predictions
        from facies_bench.evaluation import save_calibrators as write_calibrators

        if save_calibrators is not None and validation_predictions is None:
            raise typer.BadParameter("--save-calibrators needs --validation-predictions.")
        opened = open_store(store)
        report = evaluate_predictions(predictions, opened, variant=variant, validation_predictions=validation_predictions,
                                      n_bootstrap=bootstrap, seed=seed)
        report.write(output)
        if save_calibrators is not None:
            write_calibrators(report.calibrators, save_calibrators)
        _print_summary(report, output)

    @app.command("compare")
    def compare(
        predictions_a: Path = typer.Argument(..., help="Model A's test predictions (e.g. runs/a/predictions/seed0.parquet)."),
        predictions_b: Path = typer.Argument(..., help="Model B's test predictions, on the same samples."),
        store: str = typer.Option(..., "--store", help="Store path or URL both predictions refer to."),
        variant: str = typer.Option("raw", "--variant", help="Label variant to score against (raw: every sample)."),
        bootstrap: int = typer.Option(1000, "--bootstrap", min=1, help="Paired glacier resamples."),
        seed: int = typer.Option(0, "--seed", help="Seed of the resampling."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON."),
    ) -> None:
        """Is model A better than B? Paired glacier bootstrap of A − B on the same test samples."""
        import json

        from facies_bench.data.store import open_store
        from facies_bench.evaluation import compare_predictions

        comparison = compare_predictions(predictions_a, predictions_b, open_store(store), variant=variant,
                                         n_resamples=bootstrap, seed=seed)
        if as_json:
            typer.echo(json.dumps(comparison.to_dict(), indent=2))
        else:
            _print_comparison(comparison)
