"""``facies-bench map``: facies and confidence GeoTIFFs (and a quicklook) for a scene."""

from __future__ import annotations

from pathlib import Path

import typer

from facies_bench.errors import FaciesBenchError


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    @app.command("map")
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
        mode: str = typer.Option("dense", "--mode", help="dense (fast, fully convolutional; agrees with exact on ~92-97% of glacier pixels) or exact (per patch, ~100x slower)."),
        refine_margin: float | None = typer.Option(None, "--refine-margin", help="Dense mode: recompute exactly the pixels whose robust probability margin is below this (e.g. 0.3; slower, closer to exact)."),
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

        from_store = store is not None or scene_id is not None
        if from_store and (store is None or scene_id is None):
            raise FaciesBenchError("Mapping a store scene needs both --store STORE and --scene-id ID.")
        if from_store and (scene is not None or outlines is not None):
            raise FaciesBenchError("Give either --store/--scene-id or --scene/--outlines, not both.")
        if product and (from_store or scene is not None):
            raise FaciesBenchError("Give either --product (with --dem and --outlines) or --scene / --store, not both.")
        if not from_store and not product and (scene is None or outlines is None):
            raise FaciesBenchError("Give --scene OPTICAL.tif and --outlines OUTLINES.geojson (or --store STORE --scene-id ID).")
        models, calibrator = load_mapping_models(model, norm_stats=norm_stats)
        if calibration:
            calibrator = load_calibration(calibration, models, fold=calibration_fold)
        options = {"mode": mode, "tile": tile, "smoothing": None if no_smoothing else smooth, "min_island_px": min_island,
                   "refine_margin": refine_margin}
        if product:
            from facies_bench.cli._map_products import run_map_products

            run_map_products(models, product, dem=dem, outlines=outlines, out_dir=output, glaciers=glacier,
                             calibrator=calibrator, context_m=context_m, options=options)
            return
        if store is not None and scene_id is not None:
            from facies_bench.data.store import open_store

            result = map_store_scene_to_files(models, open_store(store), scene_id, output, calibrator=calibrator,
                                              confidence=confidence, quicklook=quicklook, **options)
        elif scene is not None and outlines is not None:  # checked above
            from facies_bench.cli._map_products import single_dem

            supplied = {"slope": slope, "shadow_mask": shadow, "hillshade": hillshade, "proximity": proximity}
            result = map_rasters(models, scene, outlines, output, dem=single_dem(dem), supplied=supplied, sun_azimuth=sun_azimuth,
                                 sun_elevation=sun_elevation, calibrator=calibrator, resample=resample,
                                 reflectance_scale=reflectance_scale, confidence=confidence, quicklook=quicklook,
                                 workdir=workdir, **options)
        else:  # ruled out by the checks above
            raise FaciesBenchError("Give --scene OPTICAL.tif and --outlines OUTLINES.geojson (or --store STORE --scene-id ID).")
        sm = result.scene_map
        modes = ", ".join(sorted(set(sm.modes)))
        typer.echo(f"mapped {sm.n_glacier_px:,} glacier pixels with {len(models)} model(s) ({modes}) in {sm.seconds:.1f} s "
                   f"({sm.pixels_per_second:,.0f} px/s)")
        if sm.n_refined_px:
            typer.echo(f"recomputed {sm.n_refined_px:,} close-call pixels in exact mode")
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
