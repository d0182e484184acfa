"""``facies-bench score``: score a predictions file and write the evaluation report."""

from __future__ import annotations

from pathlib import Path

import typer


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _print_summary(report, outdir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from facies_bench import schema

    d = report.to_dict()
    s = report.summary()
    console = Console()
    table = Table(title=f"{d['provenance']['store'].get('name')} · variant {d['provenance']['variant']} · n = {d['coverage']['n_scored']}")
    table.add_column("metric")
    table.add_column("%", justify="right")
    low, high = s["macro_f1_ci"]
    rows = [
        ("accuracy", _pct(s["accuracy"])),
        ("macro precision", _pct(s["macro_precision"])),
        ("macro recall", _pct(s["macro_recall"])),
        ("macro F1", _pct(s["macro_f1"]) + (f"  [{_pct(low)}, {_pct(high)}]" if low is not None else "")),
        ("mean IoU", _pct(s["mean_iou"])),
        ("glacier-wise macro F1", f"{_pct(s['glacier_f1_mean'])} ± {_pct(s['glacier_f1_std'])}"),
        ("ECE_100", _pct(s["ece_100"])),
        ("ECE_100 calibrated", _pct(s["ece_100_calibrated"]) if d["calibration"]["calibrated"] else "not run"),
    ]
    rows += [(f"F1 {name}", _pct(s["per_class_f1"][key])) for name, key in zip(schema.CLASS_NAMES, schema.CLASS_KEYS)]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if d["coverage"]["note"]:
        console.print(f"[yellow]{d['coverage']['note']}[/yellow]")
    console.print(f"report written to {outdir}")


def register(app: typer.Typer, data_app: typer.Typer) -> None:
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
