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
        from facies_bench.errors import MassBalanceError
        from facies_bench.smb import run_smb, wgms_dir, write_synthetic_wgms
        from facies_bench.smb.synthetic import MAPPING_NAME, TABLE_NAME

        if model and true_facies:
            raise MassBalanceError("Pass either --model or --true-facies, not both.")
        if tables is not None and (maps is not None or model or true_facies):
            raise MassBalanceError("Pass --tables alone, without --maps, --model or --true-facies.")
        if maps is None and tables is None and not model and not true_facies:
            raise MassBalanceError("No facies source: pass --model CHECKPOINT (repeatable), --true-facies, or --maps DIR.")
        if store is None and maps is None and tables is None:
            from facies_bench.cli._render import resolve_store_with_progress

            store_obj = resolve_store_with_progress(None)
        else:
            from facies_bench.data.store import open_store

            store_obj = open_store(store) if store is not None else None
        if wgms_table is None:
            if store_obj is None:
                raise MassBalanceError("No WGMS table: pass --wgms TABLE --mapping CSV (or --store of a synthetic store).")
            folder = wgms_dir(store_obj)
            if not (folder / TABLE_NAME).is_file() and store_obj.is_synthetic:
                write_synthetic_wgms(store_obj, seed=seed)
                typer.echo(f"drew synthetic SMB records for {store_obj.path} -> {folder}")
            wgms_table = folder / TABLE_NAME
        if mapping is None:
            mapping = Path(wgms_table).parent / MAPPING_NAME
        model_paths = _parse_models(model or [])
        source = maps if maps is not None else store_obj
        if tables is not None:
            from facies_bench.smb.tables import ProductTablesSource

            source = ProductTablesSource(tables)
        report = run_smb(source, wgms_table, mapping, store=store_obj if maps is not None or tables is not None else None,
                         model_paths=model_paths, use_true_facies=true_facies, dem=dem, outlines=outlines,
                         optical=optical, window_days=window_days, center=center, alpha=alpha, min_records=min_records)
        paths = report.write(outdir)
        _render_summary(report, paths)


def _parse_models(values: list[str]) -> list[str] | dict[int, str]:
    """``PATH ...`` -> list; ``K=PATH ...`` -> {fold: path}; a mix is an error."""
    from facies_bench.errors import MassBalanceError

    folded = [v.partition("=") for v in values if v.partition("=")[0].strip().isdigit() and "=" in v]
    if not folded:
        return list(values)
    if len(folded) != len(values):
        raise MassBalanceError(f"--model values {values} mix PATH and K=PATH forms; use one form for all.")
    out = {int(k): p for k, _, p in folded}
    if len(out) != len(folded):
        raise MassBalanceError(f"--model gives a fold more than once: {values}.")
    return out


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
