"""``facies-bench map``: facies and confidence GeoTIFFs (and a quicklook) for a scene.

Stages: the options (configuration), the source (a store scene, rasters or satellite products),
then the library's mapping of that source, then the summary lines.  The logic lives in
:mod:`facies_bench.mapping`; this module only checks the option combination and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from facies_bench.errors import FaciesBenchError

#: ``map_scene``'s default close-call threshold (``facies_bench.mapping.DEFAULT_REFINE_MARGIN``),
#: repeated for the help text so that the CLI starts without importing torch; a test keeps the two equal.
REFINE_MARGIN_DEFAULT = 0.12

_NEEDS_SCENE = "Give --scene OPTICAL.tif and --outlines OUTLINES.geojson (or --store STORE --scene-id ID)."


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    app.command("map")(map_command)


def check_source(*, store: str | None, scene_id: str | None, scene: Path | None, outlines: Path | None,
                 product: list[str]) -> str:
    """Which source the options name: ``"store"``, ``"scene"`` or ``"product"``; a bad combination is an error."""
    from_store = store is not None or scene_id is not None
    if from_store and (store is None or scene_id is None):
        raise FaciesBenchError("Mapping a store scene needs both --store STORE and --scene-id ID.")
    if from_store and (scene is not None or outlines is not None):
        raise FaciesBenchError("Give either --store/--scene-id or --scene/--outlines, not both.")
    if product and (from_store or scene is not None):
        raise FaciesBenchError("Give either --product (with --dem and --outlines) or --scene / --store, not both.")
    if product:
        return "product"
    if from_store:
        return "store"
    if scene is None or outlines is None:
        raise FaciesBenchError(_NEEDS_SCENE)
    return "scene"


def echo_result(result: Any, *, n_models: int) -> None:
    """The summary lines of a store or raster mapping run (a :class:`~facies_bench.mapping.MapResult`)."""
    sm = result.scene_map
    modes = ", ".join(sorted(set(sm.modes)))
    typer.echo(f"mapped {sm.n_glacier_px:,} glacier pixels with {n_models} model(s) ({modes}) in {sm.seconds:.1f} s "
               f"({sm.pixels_per_second:,.0f} px/s)")
    if sm.n_refined_px:
        typer.echo(f"recomputed {sm.n_refined_px:,} close-call pixels per patch "
                   f"({sm.n_refined_px / max(sm.n_glacier_px, 1):.1%} of the glacier)")
    if result.derived:
        typer.echo(f"derived features: {', '.join(result.derived)}")
    if sm.n_nodata_px:
        typer.secho(f"warning: {sm.n_nodata_px:,} glacier pixels had nodata input and are nodata in the map", fg=typer.colors.YELLOW)
    if result.scores is not None:
        s = result.scores
        typer.echo(f"against the true facies map ({s['n_pixels']:,} px): pixel accuracy {s['pixel_accuracy']:.4f}, "
                   f"macro-F1 {s['macro_f1']:.4f}")
    for kind, path in result.outputs.items():
        typer.echo(f"{kind}: {path}")


def map_command(
    model: list[str] = typer.Option(..., "--model", "-m", help="Checkpoint (from `evaluate` or `import-keras`), or a published model: published:fs4 (the six fold models, ensembled, with the published calibration), published:fs4/fold0, published:fs1/fold0...; repeat to ensemble."),
    norm_stats: str | None = typer.Option(None, "--norm-stats", help="Normalisation of published models: 'published' (default: the authors' min/max as estimated from their weights), 'identity', or a store / JSON file."),
    output: Path = typer.Option(..., "--output", "-o", help="Facies GeoTIFF to write (uint8 codes, 255 = nodata, colour table)."),
    scene: Path | None = typer.Option(None, "--scene", help="6-band optical GeoTIFF (blue, green, red, NIR, SWIR1, SWIR2 TOA reflectance)."),
    outlines: Path | None = typer.Option(None, "--outlines", help="Glacier outlines: GeoJSON, GeoPackage, shapefile (any OGR vector format)."),
    dem: list[Path] = typer.Option([], "--dem", help="DEM (metres); needed when the model uses topographic features. With --product: DEM tiles (repeat --dem, or a folder), mosaicked and warped onto each glacier."),
    slope: Path | None = typer.Option(None, "--slope", help="Slope raster (degrees) instead of deriving it."),
    shadow: Path | None = typer.Option(None, "--shadow", help="Shadow-mask raster in the authors' polarity (1 = lit, 0 = cast shadow) instead of deriving it."),
    hillshade: Path | None = typer.Option(None, "--hillshade", help="Hillshade raster (the authors' convention: cos(slope), in (0, 1]) instead of deriving it."),
    proximity: Path | None = typer.Option(None, "--proximity", help="Proximity raster (distance to the outline over its per-glacier maximum) instead of deriving it."),
    sun_azimuth: float | None = typer.Option(None, "--sun-azimuth", help="Sun azimuth, degrees (default: scene metadata)."),
    sun_elevation: float | None = typer.Option(None, "--sun-elevation", help="Sun elevation, degrees (default: scene metadata)."),
    calibration: Path | None = typer.Option(None, "--calibration", help="Calibrator file (JSON from the evaluator, or a published .pickle)."),
    calibration_fold: int | None = typer.Option(None, "--calibration-fold", help="Use this fold's calibrator for every model."),
    mode: str = typer.Option("dense", "--mode", help="dense (fully convolutional, close calls recomputed per patch: agrees with exact on >= 99% of glacier pixels) or exact (per patch, ~100x slower than pure dense)."),
    refine_margin: float | None = typer.Option(None, "--refine-margin", help=f"Dense mode: recompute per patch the pixels whose robust probability margin is below this (default {REFINE_MARGIN_DEFAULT}, the library's; 0 = pure dense, fastest, ~92-98% agreement)."),
    workdir: Path | None = typer.Option(None, "--workdir", help="Directory for temporary band files (default: system temp)."),
    resample: bool = typer.Option(False, "--resample", help="Reproject auxiliary rasters onto the optical grid."),
    smooth: int = typer.Option(3, "--smooth", help="Majority filter window (odd); 3 x 3 as the authors' apply.py does, nodata ignored."),
    no_smoothing: bool = typer.Option(False, "--no-smoothing", help="Leave the class map unsmoothed (apply.py's --no_smoothing)."),
    min_island: int | None = typer.Option(None, "--min-island", help="Remove facies islands smaller than this many pixels."),
    confidence: Path | None = typer.Option(None, "--confidence", help="Confidence GeoTIFF to write (float32)."),
    quicklook: Path | None = typer.Option(None, "--quicklook", help="Quicklook PNG (false colour | facies | confidence)."),
    reflectance_scale: float = typer.Option(1.0, "--reflectance-scale", help="Factor turning optical values into reflectance (1e-4 for x10,000 integers)."),
    tile: int = typer.Option(512, "--tile", help="Tile side in pixels (bounds memory)."),
    store: str | None = typer.Option(None, "--store", help="Map a scene of this store instead of rasters."),
    scene_id: str | None = typer.Option(None, "--scene-id", help="Scene of --store to map."),
    product: list[str] = typer.Option([], "--product", help="Satellite product: Sentinel-2 L1C SAFE folder, Landsat C2 L1 folder, STAC item (.json or URL); repeatable. -o is then an output folder (per glacier: facies/confidence COGs, quicklook; per product: facies_table.csv/.json; timeseries.csv)."),
    glacier: list[str] = typer.Option([], "--glacier", help="With --product: RGI/GLIMS id or glacier name to map (repeatable); default: every glacier of --outlines intersecting the product."),
    context_m: float = typer.Option(5000.0, "--context-m", help="With --product: terrain context around each glacier (m) for cast shadows."),
) -> None:
    """Map glacier facies over a scene: facies GeoTIFF, optional confidence GeoTIFF and quicklook PNG."""
    from facies_bench.mapping import map_rasters
    from facies_bench.mapping.pipeline import load_calibration, load_mapping_models, map_store_scene_to_files

    source = check_source(store=store, scene_id=scene_id, scene=scene, outlines=outlines, product=product)
    models, calibrator = load_mapping_models(model, norm_stats=norm_stats)
    if calibration:
        calibrator = load_calibration(calibration, models, fold=calibration_fold)
    options = {"mode": mode, "tile": tile, "smoothing": None if no_smoothing else smooth, "min_island_px": min_island}
    if refine_margin is not None:
        options["refine_margin"] = refine_margin
    if source == "product":
        from facies_bench.cli._map_products import run_map_products

        run_map_products(models, product, dem=dem, outlines=outlines, out_dir=output, glaciers=glacier,
                         calibrator=calibrator, context_m=context_m, options=options)
        return
    if source == "store" and store is not None and scene_id is not None:
        from facies_bench.data.store import open_store

        result = map_store_scene_to_files(models, open_store(store), scene_id, output, calibrator=calibrator,
                                          confidence=confidence, quicklook=quicklook, **options)
    elif scene is not None and outlines is not None:  # check_source made sure
        from facies_bench.cli._map_products import single_dem

        supplied = {"slope": slope, "shadow_mask": shadow, "hillshade": hillshade, "proximity": proximity}
        result = map_rasters(models, scene, outlines, output, dem=single_dem(dem), supplied=supplied, sun_azimuth=sun_azimuth,
                             sun_elevation=sun_elevation, calibrator=calibrator, resample=resample,
                             reflectance_scale=reflectance_scale, confidence=confidence, quicklook=quicklook,
                             workdir=workdir, **options)
    else:  # ruled out by check_source
        raise FaciesBenchError(_NEEDS_SCENE)
    echo_result(result, n_models=len(models))
