"""``facies-bench clean`` and ``facies-bench reproduce``."""

from __future__ import annotations

from pathlib import Path

import typer

from facies_bench import schema
from facies_bench.cli._render import console, pct, table


def register(app: typer.Typer, data_app: typer.Typer) -> None:
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
        console.print(f"Review list for experts: {result.report_dir / 'review.csv'}")

    @data_app.command("set-default-cleaned")
    def set_default(store: str = typer.Argument(..., help="Store path."),
                    name: str = typer.Argument(..., help="Existing cleaned variant.")) -> None:
        """Make a cleaned variant the store's default 'cleaned' variant."""
        from facies_bench.data.store import open_store

        s = open_store(store, mode="r+")
        s.set_default_cleaned(name)
        console.print(f"Default cleaned variant of {store}: {name}")
