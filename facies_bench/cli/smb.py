"""``facies-bench smb``: facies maps + WGMS records -> the paper's SMB regressions (Eq. 2, Eq. 3)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    @app.command("smb")
    def smb(
        store: str | None = typer.Option(None, "--store", help="Facies store (default: the embedded dataset). With --maps: supplies scene metadata, DEM, outlines, optical bands and folds."),
        model: list[str] | None = typer.Option(None, "--model", "-m", help="Model checkpoint(s) mapping the store's scenes on the fly: PATH (several are ensembled) or K=PATH per test fold K (each glacier mapped by its own fold's model)."),
        true_facies: bool = typer.Option(False, "--true-facies", help="Use the synthetic scenes' true facies (the bound of a perfect classifier)."),
        maps: Path | None = typer.Option(None, "--maps", help="Folder of facies GeoTIFFs from `facies-bench map` instead of mapping the store."),
        tables: Path | None = typer.Option(None, "--tables", help="Folder of product tables (facies_table.json/.csv) from `facies-bench map --product ... -o DIR` instead of maps or a store."),
        dem: Path | None = typer.Option(None, "--dem", help="With --maps: DEM GeoTIFF, or folder of <scene_id>.tif / <glacier>.tif."),
        outlines: Path | None = typer.Option(None, "--outlines", help="With --maps: outline raster/folder or vector file (GeoJSON...)."),
        optical: Path | None = typer.Option(None, "--optical", help="With --maps: optical GeoTIFF(s), first six bands blue..swir2, for the albedo."),
        wgms_table: Path | None = typer.Option(None, "--wgms", help="WGMS FoG mass-balance table (default: <store>.wgms/mass_balance.csv, drawn for synthetic stores)."),
        mapping: Path | None = typer.Option(None, "--mapping", help="CSV glacier,wgms_id (default: beside the WGMS table)."),
        window_days: int = typer.Option(20, "--window-days", help="Half-width of the acquisition window, days."),
        center: str = typer.Option("08-20", "--center", help="Window centre, MM-DD."),
        alpha: float = typer.Option(1.0, "--alpha", help="Ridge penalty on standardised predictors."),
        min_records: int = typer.Option(4, "--min-records", help="Fewest records for a glacier-specific model (Eq. 3)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the synthetic SMB records drawn when a synthetic store has none."),
        outdir: Path = typer.Option(..., "--output", "-o", help="Output folder (smb_report.json/.md, smb_features.csv, two PNGs)."),
    ) -> None:
        """Glacier-wide SMB from facies maps: global model with glacier folds, glacier-specific leave-one-year-out."""
        from facies_bench.smb import SMBConfig, locate_wgms_records, open_smb_store, run_smb_config

        config = SMBConfig.from_options(store=store, models=model or [], true_facies=true_facies, maps=maps, tables=tables,
                                        dem=dem, outlines=outlines, optical=optical, wgms_table=wgms_table, mapping=mapping,
                                        records_seed=seed, window_days=window_days, center=center, alpha=alpha,
                                        min_records=min_records)
        if config.uses_embedded_store:
            from facies_bench.cli._render import resolve_store_with_progress

            store_obj = resolve_store_with_progress(None)
        else:
            store_obj = open_smb_store(config)
        records = locate_wgms_records(store_obj, wgms_table=config.wgms_table, mapping=config.mapping, seed=config.records_seed)
        if records.drawn and store_obj is not None:
            typer.echo(f"drew synthetic SMB records for {store_obj.path} -> {records.table.parent}")
        report = run_smb_config(config, store=store_obj, records=records)
        paths = report.write(outdir)
        _render_summary(report, paths)


def _render_summary(report, paths: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    def fmt(v):
        return "–" if v is None else f"{v:.2f}"

    table = Table(title="Glacier-wide SMB from facies maps")
    for col in ("model", "validation", "n", "r", "RMSE (m w.e.)", "paper r / RMSE"):
        table.add_column(col)
    g, s = report.global_model.scores, report.specific_model.scores
    table.add_row("global (Eq. 2)", "glacier folds", str(g["n"]), fmt(g["r"]), fmt(g["rmse"]), "0.65 / 0.60")
    table.add_row("glacier-specific (Eq. 3)", "leave-one-year-out", str(s["n"]), fmt(s["r"]), fmt(s["rmse"]), "0.79 / 0.28")
    console = Console()
    console.print(table)
    if report.left_out:
        stages: dict[str, int] = {}
        for item in report.left_out:
            stages[item["stage"]] = stages.get(item["stage"], 0) + 1
        listed = ", ".join(f"{k} {v}" for k, v in stages.items())
        console.print(f"left out: {len(report.left_out)} item(s) ({listed}); each is listed with its reason in {paths['markdown']}")
    console.print(f"report: {paths['json']}")
