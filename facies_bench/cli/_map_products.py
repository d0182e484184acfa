"""``facies-bench map --product ...``: the thin CLI layer over :func:`facies_bench.mapping.products.map_product`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from facies_bench.errors import FaciesBenchError


def single_dem(dem: Sequence[Path] | Path | None) -> Path | None:
    """The one DEM a ``--scene`` run takes (several tiles are for ``--product``)."""
    if dem is None or isinstance(dem, Path):
        return dem
    dem = list(dem)
    if len(dem) > 1:
        raise FaciesBenchError(f"--scene takes one --dem raster on the scene grid; got {len(dem)}. Several DEM tiles "
                               "are mosaicked only with --product.")
    return dem[0] if dem else None


def run_map_products(models: Sequence[Any], products: Sequence[str], *, dem: Sequence[Path], outlines: Path | None,
                     out_dir: Path, glaciers: Sequence[str], calibrator: Any, context_m: float,
                     options: dict[str, Any]) -> None:
    """Map each product (each granule of a multi-granule SAFE) into ``out_dir`` and print what was written."""
    from facies_bench.mapping.products import glaciers_per_granule, map_product
    from facies_bench.products import open_products

    if outlines is None:
        raise FaciesBenchError("--product needs --outlines RGI.(shp|gpkg) (RGI 7.0 / GLIMS glacier outlines).")
    if not dem:
        raise FaciesBenchError("--product needs --dem TILE (repeat --dem for several tiles, or give a folder of tiles).")
    if out_dir.suffix.lower() in (".tif", ".tiff"):
        raise FaciesBenchError(f"With --product, -o is an output folder; got {str(out_dir)!r}.")
    planned = [plan for source in products for plan in glaciers_per_granule(open_products(source), outlines,
                                                                            glaciers=glaciers or None)]
    for product, chosen in planned:
        def progress(done: int, total: int, label: str) -> None:
            typer.echo(f"  [{done}/{total}] {label}")

        result = map_product(models, product, dem, outlines, out_dir, glaciers=chosen or None, calibrator=calibrator,
                             context_m=context_m, progress=progress, **options)
        p = result.product
        typer.echo(f"{p.product_id} ({p.sensor}, {p.date}): mapped {result.n_mapped} of {len(result.table)} glacier(s) "
                   f"in {result.seconds:.1f} s -> {result.folder}")
        skipped = result.table.loc[result.table["status"] != "mapped", ["glacier_id", "status"]]
        for row in skipped.itertuples():
            typer.secho(f"  not mapped: {row.glacier_id}: {row.status}", fg=typer.colors.YELLOW)
        for kind, path in result.outputs.items():
            typer.echo(f"{kind}: {path}")
