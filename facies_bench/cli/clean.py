"""``facies-bench clean`` and ``facies-bench reproduce``."""

from __future__ import annotations

from pathlib import Path

import typer

from facies_bench import schema
from facies_bench.cli._render import console, pct, resolve_store_with_progress, table


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    @app.command("clean")
    def clean(
        run_dir: Path = typer.Argument(..., help="A finished raw-label run of `facies-bench evaluate` (all six folds)."),
        store: str = typer.Option(..., "--store", help="The store the run used; it gains the new label variant."),
        name: str = typer.Option(..., "--name", help="Name of the cleaned variant."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing variant of that name."),
        make_default: bool = typer.Option(False, "--default", help="Make it the store's default 'cleaned' variant."),
    ) -> None:
        """Prune likely mislabelled samples with confident learning (cleanlab) into a new label variant."""
        from facies_bench.cleaning import clean_run

        result = clean_run(run_dir, store, name, overwrite=overwrite, make_default=make_default)
        per = result.summary["per_class"]
        rows = [[c.name, per[c.key]["n"], per[c.key]["pruned"],
                 "never" if per[c.key]["protected"] else pct(per[c.key]["pruned_fraction"])] for c in schema.CLASSES]
        rows.append(["overall", result.summary["n"], result.summary["pruned"], pct(result.summary["pruned_fraction"])])
        console.print(table(f"Variant '{name}' written to {result.store['path']}", ["class", "n", "pruned", "pruned, %"], rows))
        if result.noise_recovery:
            nr = result.noise_recovery
            rows = [[c.name, pct(nr["per_class"][c.key]["base_rate"]), pct(nr["per_class"][c.key]["precision"]),
                     pct(nr["per_class"][c.key]["recall"])] for c in schema.CLASSES]
            rows.append(["overall", pct(nr["overall"]["base_rate"]), pct(nr["overall"]["precision"]), pct(nr["overall"]["recall"])])
            console.print(table("Flagged vs injected label noise (synthetic store)", ["class", "noisy, %", "precision, %", "recall, %"], rows))
        if result.report_dir is not None:
            console.print(f"Review list for experts: {result.report_dir / 'review.csv'}")

    @data_app.command("set-default-cleaned")
    def set_default(store: str = typer.Argument(..., help="Store path."),
                    name: str = typer.Argument(..., help="Existing cleaned variant.")) -> None:
        """Make a cleaned variant the store's default 'cleaned' variant."""
        from facies_bench.data.store import open_store

        s = open_store(store, mode="r+")
        s.set_default_cleaned(name)
        console.print(f"Default cleaned variant of {store}: {name}")

    @app.command("reproduce")
    def reproduce_cmd(
        model: str = typer.Argument(..., help="Submission file (e.g. baselines/paper_cnn.py) or registered model name."),
        store: str = typer.Option(None, "--store", help="Store path or URL (default: the embedded dataset)."),
        features: str = typer.Option("4", "--features", help="Feature set 1-4 or a comma-separated feature list."),
        epochs: int = typer.Option(None, "--epochs", help="Epochs per fold model (default: the recipe's)."),
        seeds: int = typer.Option(1, "--seeds", help="Replicates per run (seeds 0..N-1)."),
        quick: bool = typer.Option(False, "--quick", help="Small store and the quick recipe (minutes on a laptop)."),
        precision: str = typer.Option(None, "--precision", help="fp32 or bf16."),
        name: str = typer.Option(None, "--name", help="Name of the cleaned variant (default cl-<model>-fs<k>)."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory (raw/, cleaned/, tables.md)."),
    ) -> None:
        """The paper's workflow: raw training, cleaning, cleaned training, Tables 2-4 beside the paper's."""
        from rich.markdown import Markdown

        from facies_bench.cleaning.reproduce import reproduce
        from facies_bench.cli.evaluate import RichProgress

        result = reproduce(model, resolve_store_with_progress(store, quick=quick), out_dir=out, features=features, quick=quick, epochs=epochs,
                           seeds=tuple(range(seeds)), variant_name=name, precision=precision, progress=RichProgress())
        console.print(Markdown(result.to_markdown()))
        console.print(f"Tables written to {out / 'tables.md'} and {out / 'tables.json'}")
