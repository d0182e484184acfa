"""``facies-bench data synth`` and ``facies-bench data info``."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    @data_app.command("synth")
    def synth(
        output: Path = typer.Option(..., "--output", "-o", help="Where to write the store (a directory)."),
        scale: float = typer.Option(1.0, "--scale", help="Fraction of the 137,592 labels (0 < scale <= 1)."),
        seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same store bit for bit."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing store."),
    ) -> None:
        """Simulate the embedded synthetic glacier facies dataset and write it as a store."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from facies_bench.synth import generate_store

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      transient=True) as bar:
            task = bar.add_task("simulating", total=None)

            def progress(done: int, total: int, desc: str) -> None:
                bar.update(task, completed=done, total=total, description=desc[:60])

            store = generate_store(output, scale=scale, seed=seed, overwrite=overwrite, progress=progress)
        typer.echo(f"wrote {store.path}: {store.n_samples} samples, {len(store.scene_ids)} scenes, {store.content_hash}")

    @data_app.command("info")
    def info(
        store: str = typer.Argument(..., help="Path or URL of a facies store."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON."),
    ) -> None:
        """Describe a store: labels per class, region, sensor, fold and glacier; scenes; dates."""
        from facies_bench.data.store import dumps, open_store, store_summary

        summary = store_summary(open_store(store))
        if as_json:
            typer.echo(dumps(summary))
            return
        _print_summary(summary)


def _print_summary(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    n = max(1, summary["n_samples"])
    s = summary["store"]
    kind = "synthetic" if s["is_synthetic"] else "real"
    console.print(f"[bold]{s['name']}[/bold] {s['version']}  ({kind})  {s['content_hash']}")
    console.print(f"{summary['n_samples']:,} labels, {summary['n_scenes']} scenes, {summary['n_glaciers']} glaciers, "
                  f"{summary['date_range'][0]} to {summary['date_range'][1]}")

    def table(title: str, counts: dict, extra: dict | None = None, extra_name: str = "") -> None:
        t = Table(title=title, title_justify="left")
        t.add_column(title.split()[0].lower())
        t.add_column("labels", justify="right")
        t.add_column("%", justify="right")
        if extra is not None:
            t.add_column(extra_name)
        for key, value in counts.items():
            row = [str(key), f"{value:,}", f"{100 * value / n:.2f}"]
            if extra is not None:
                row.append(", ".join(extra.get(str(key), [])))
            t.add_row(*row)
        console.print(t)

    table("Class labels", summary["classes"])
    table("Region labels", summary["regions"])
    table("Sensor labels", summary["sensors"])
    table("Fold labels", summary["folds"], summary["fold_glaciers"], "glaciers")
    table("Glacier labels", dict(sorted(summary["glaciers"].items(), key=lambda kv: -kv[1])))
    variants = ", ".join(summary["variants"])
    default = f" (default cleaned: {summary['default_cleaned']})" if summary["default_cleaned"] else ""
    console.print(f"label variants: {variants}{default}")
