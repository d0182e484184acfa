"""Satellite products in, per-glacier facies maps and tables out (``facies-bench map --product``).

:func:`map_product` reads a product (:func:`facies_bench.products.open_product`), picks the
glaciers (:func:`facies_bench.products.load_glaciers`) and maps each one in its own window of the
product's 10 m grid with the existing mapper:

1. the window is the glacier's bounding box grown by ``context_m`` (default 5 km) so that the
   DEM-derived cast shadows see the surrounding relief; after the features are derived it is
   cropped to the bounding box plus the patches' reach (the dense halo), which is all the
   mapper needs;
2. TOA reflectance of the window (:func:`~facies_bench.products.product.read_toa`), the DEM tiles
   mosaicked and warped onto it (:func:`~facies_bench.products.dem.read_dem`) and the glacier
   rasterised on it (this glacier only);
3. :func:`~facies_bench.mapping.features.build_feature_bands` derives the missing features, so
   elevation and proximity are normalised with this glacier's own range (the paper's
   per-glacier normalisation) whatever its neighbours are;
4. :func:`~facies_bench.mapping.predict_scene.map_scene` (dense inference, ensembling,
   calibrated confidence, post-processing) and
   :func:`~facies_bench.mapping.pipeline.write_outputs` (facies COG, confidence COG, quicklook)
   on the glacier's bounding box;
5. the table row: facies areas and the SMB predictors of :mod:`facies_bench.features.glacier`.

Outputs are written into a hidden temporary folder beside ``OUT_DIR/<product id>/`` and renamed
into place when the product is done; the per-glacier time series (``timeseries.csv`` and plots)
are then rebuilt from every product table in ``OUT_DIR``.

Memory: one glacier window at a time (float32: 6 optical bands, DEM, up to 5 derived features,
plus the mapper's tile working set), so a 10,980 x 10,980 Sentinel-2 tile is never held whole; a
large valley glacier (10 x 20 km, 3,000 x 2,000 px window with context) needs ~0.5 GB besides
the mapper's tiles.  GDAL's block cache is capped at :data:`GDAL_CACHE_MB` while mapping.
``benchmarks/test_products.py`` measures a full tile with 50 glaciers.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import shapely
from rasterio.windows import Window

from facies_bench import schema
from facies_bench.atomic import replace_dir
from facies_bench.errors import FaciesBenchError, RasterError
from facies_bench.features import glacier as glacier_features
from facies_bench.mapping.dense import DENSE_HALO
from facies_bench.mapping.features import build_feature_bands, required_features
from facies_bench.mapping.io import NODATA_CLASS
from facies_bench.mapping.pipeline import write_outputs
from facies_bench.mapping.predict_scene import map_scene
from facies_bench.products.dem import DemTile, open_dem_tiles, read_dem
from facies_bench.products.outlines import GlacierOutline, load_glaciers, read_glacier_outlines, select_glaciers
from facies_bench.products.product import Product, read_toa, window_grid
from facies_bench.products.reader import open_product
from facies_bench.products.table import write_product_table, write_time_series
from facies_bench.raster import RasterGrid

log = logging.getLogger(__name__)

#: Context around each glacier (m): terrain that can cast shadows on it and the patches' reach.
DEFAULT_CONTEXT_M = 5000.0
#: Largest share of a glacier's pixels allowed without DEM before the DEM counts as not covering it.
MAX_DEM_GAP = 0.01
#: GDAL raster block cache while mapping a product (MB; GDAL's default is 5 % of the machine's RAM,
#: which alone would exceed the 4 GB budget on a large machine).  ``GDAL_CACHEMAX`` in the
#: environment wins.
GDAL_CACHE_MB = 256


@dataclass
class GlacierInputs:
    """Everything the mapper needs for one glacier, on its window of the product grid."""

    glacier: GlacierOutline
    window: Window  #: the mapped window on the product grid: the glacier and its patches' reach
    grid: RasterGrid  #: the window's grid
    box: tuple[slice, slice]  #: the glacier's bounding box inside the window (+1 px)
    ids: np.ndarray  #: (h, w) int32, 1 on the glacier
    optical: np.ndarray  #: (6, h, w) TOA reflectance
    dem: np.ndarray  #: (h, w) metres
    bands: dict[str, np.ndarray]  #: the models' feature bands


@dataclass
class ProductMapResult:
    """What :func:`map_product` produced."""

    product: Product
    folder: Path  #: OUT_DIR/<product id>
    table: pd.DataFrame  #: one row per glacier (``facies_bench.products.table.TABLE_COLUMNS``)
    outputs: dict[str, Path] = field(default_factory=dict)  #: table and time-series files
    seconds: float = 0.0

    @property
    def n_mapped(self) -> int:
        """Glaciers mapped in this product."""
        return int((self.table["status"] == "mapped").sum())


def product_slug(product_id: str) -> str:
    """File-name-safe product id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", product_id).strip("_") or "product"


def _pixel_box(geometry: dict[str, Any], grid: RasterGrid) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1) of the geometry's bounding box on ``grid`` (may exceed the grid)."""
    minx, miny, maxx, maxy = rasterio.features.bounds(geometry)
    inv = ~grid.transform
    cols, rows = zip(*(inv * (x, y) for x, y in ((minx, maxy), (maxx, miny))), strict=True)
    rows, cols = tuple(round(v, 6) for v in rows), tuple(round(v, 6) for v in cols)  # reprojection noise must not add a pixel
    return (int(math.floor(min(rows))), int(math.ceil(max(rows))), int(math.floor(min(cols))), int(math.ceil(max(cols))))


def glacier_inputs(product: Product, glacier: GlacierOutline, dem_tiles: Sequence[DemTile], *, needed: Sequence[str],
                   context_m: float = DEFAULT_CONTEXT_M) -> GlacierInputs | str:
    """Read and derive the inputs of one glacier, or say why it cannot be mapped.

    Args:
        product: the product.
        glacier: the glacier (geometry in the product CRS).
        dem_tiles: from :func:`~facies_bench.products.dem.open_dem_tiles`.
        needed: feature names the models use.
        context_m: context around the glacier's bounding box, metres.

    Returns:
        A :class:`GlacierInputs`, or a short reason (str) when the glacier has no pixel on the
        product grid or no valid optical pixel.

    Raises:
        RasterError: the DEM tiles do not cover the glacier.
    """
    grid = product.grid
    r0, r1, c0, c1 = _pixel_box(glacier.geometry, grid)
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1, grid.height), min(c1, grid.width)
    if r1 <= r0 or c1 <= c0:
        return "outside the product grid"
    ctx = max(int(math.ceil(context_m / grid.pixel_size)), schema.PATCH_SIZE // 2 + DENSE_HALO)
    wr0, wc0 = max(r0 - ctx, 0), max(c0 - ctx, 0)
    wr1, wc1 = min(r1 + ctx, grid.height), min(c1 + ctx, grid.width)
    wgrid = window_grid(grid, Window(wc0, wr0, wc1 - wc0, wr1 - wr0))
    # the mapper needs only the glacier and its patches' reach (the context is for the DEM features)
    pad = max(DENSE_HALO, schema.PATCH_SIZE // 2) + 4
    mr0, mc0 = max(r0 - pad, 0), max(c0 - pad, 0)
    mr1, mc1 = min(r1 + pad, grid.height), min(c1 + pad, grid.width)
    window = Window(mc0, mr0, mc1 - mc0, mr1 - mr0)
    crop = (slice(mr0 - wr0, mr1 - wr0), slice(mc0 - wc0, mc1 - wc0))
    ids = rasterio.features.rasterize([(glacier.geometry, 1)], out_shape=wgrid.shape, transform=wgrid.transform,
                                      fill=0, dtype="int32")
    inside = ids[crop] > 0
    if not inside.any():
        return "no pixel centre of the product grid falls inside the outline"
    optical = read_toa(product, window)
    if not np.isfinite(optical[:, inside]).all(axis=0).any():
        return "no valid optical data over the glacier (outside the product's footprint or all nodata)"
    dem = read_dem(dem_tiles, wgrid)
    gap = float((~np.isfinite(dem[crop][inside])).mean())
    if gap > MAX_DEM_GAP:
        tiles = ", ".join(Path(t.path).name for t in dem_tiles)
        msg = (f"DEM tile(s) {tiles} do not cover glacier {glacier.label}: {gap:.0%} of its pixels have no elevation; "
               "add the missing tile(s) with --dem.")
        raise RasterError(msg)
    derived = [f for f in needed if f not in schema.OPTICAL_FEATURES]
    bands = {}
    if derived:  # on the whole context window (cast shadows), then cropped
        full = build_feature_bands(np.empty((len(schema.OPTICAL_FEATURES), 0, 0), np.float32), ids, needed=derived,
                                   pixel_size=wgrid.pixel_size, dem=dem, sun_azimuth=product.sun_azimuth,
                                   sun_elevation=product.sun_elevation, scene_path=product.source)
        bands = {k: np.ascontiguousarray(np.asarray(v)[crop]) for k, v in full.items()}
    bands.update({name: optical[i] for i, name in enumerate(schema.OPTICAL_FEATURES) if name in needed})
    box = (slice(max(r0 - mr0 - 1, 0), min(r1 - mr0 + 1, mr1 - mr0)),
           slice(max(c0 - mc0 - 1, 0), min(c1 - mc0 + 1, mc1 - mc0)))
    return GlacierInputs(glacier=glacier, window=window, grid=window_grid(grid, window), box=box,
                         ids=np.ascontiguousarray(ids[crop]), optical=optical, dem=np.ascontiguousarray(dem[crop]),
                         bands=bands)


def _empty_row(product: Product, glacier: GlacierOutline, status: str) -> dict[str, Any]:
    return {"product_id": product.product_id, "sensor": product.sensor, "date": product.date,
            "acquired": product.acquired.isoformat(), "glacier_id": glacier.glacier_id, "glacier_name": glacier.name,
            "status": status, "sun_azimuth": product.sun_azimuth, "sun_elevation": product.sun_elevation}


def glacier_row(product: Product, inputs: GlacierInputs, classes: np.ndarray, *, grid: RasterGrid,
                outputs: dict[str, Path]) -> dict[str, Any]:
    """The table row of a mapped glacier (areas, hypsometry, SMB predictors) on its bounding box."""
    box = inputs.box
    outline = inputs.ids[box] > 0
    dem = inputs.dem[box].astype(np.float64)
    optical = inputs.optical[(slice(None), *box)]
    px_area = glacier_features.pixel_area(tuple(grid.transform)[:6])
    hyp = glacier_features.compute_hypsometry(dem, outline, pixel_area_m2=px_area, glacier=inputs.glacier.glacier_id,
                                          scene_id=product.product_id, date=product.date)
    values = glacier_features.compute_scene_features(classes, dem, outline, hypsometry=hyp, pixel_area_m2=px_area,
                                                 optical=optical, sensor=product.sensor, scene_id=product.product_id)
    issues = list(values.issues)
    shape = shapely.geometry.shape(inputs.glacier.geometry)
    share = shape.intersection(shapely.box(*product.grid.bounds)).area / shape.area if shape.area > 0 else 1.0
    if share < 0.999:  # a glacier cut by the tile edge: its area and statistics are those of the covered part
        issues.append(f"only {share:.1%} of the outline lies within the product")
    mapped = outline & (classes != NODATA_CLASS)
    counts = np.bincount(classes[mapped].astype(np.int64), minlength=schema.N_CLASSES)[: schema.N_CLASSES]
    row = _empty_row(product, inputs.glacier, "mapped")
    row.update({"area_m2": hyp.area_m2, "elevation_mean_m": hyp.mean_m, "elevation_min_m": hyp.min_m,
                "elevation_max_m": hyp.max_m, "glacier_px": int(outline.sum()), "mapped_px": int(mapped.sum()),
                "nodata_px": int(outline.sum() - mapped.sum()), "snow_px": values.snow_px,
                "snow_area_m2": values.snow_px * px_area, "snow_ratio": values.snow_ratio, "snowline_m": values.snowline_m,
                "snowline_norm": values.snowline_norm, "albedo": values.albedo,
                "unobserved_fraction": values.unobserved_fraction, "pixel_area_m2": px_area,
                "issues": "; ".join(issues),
                **{f"area_{k}_m2": float(n * px_area) for k, n in zip(schema.CLASS_KEYS, counts, strict=False)},
                **{kind: str(path) for kind, path in outputs.items()}})
    return row


def glaciers_per_granule(products: Sequence[Product], outlines: str | os.PathLike, *,
                         glaciers: Sequence[str] | None = None) -> list[tuple[Product, list[str]]]:
    """Which of the chosen glaciers each granule of a multi-granule product maps.

    One product is returned as is, with ``glaciers``.  Of several (the granules of a pre-2016
    SAFE), each comes with the ids of the chosen glaciers (all, without ``glaciers``) whose
    outline intersects its grid; granules covering none are left out.

    Raises:
        UnknownNameError: a selector matches no outline.
        RasterError: no granule covers any of the chosen glaciers.
    """
    if len(products) <= 1:
        return [(p, list(glaciers or [])) for p in products]
    planned = []
    for product in products:
        box = shapely.box(*product.grid.bounds)
        inside = [g for g in read_glacier_outlines(outlines, crs=product.grid.crs, bounds=product.grid.bounds)
                  if shapely.geometry.shape(g.geometry).intersects(box)]
        if glaciers:
            wanted = {g.glacier_id for g in select_glaciers(read_glacier_outlines(outlines, crs=product.grid.crs),
                                                            glaciers, path=outlines)}
            inside = [g for g in inside if g.glacier_id in wanted]
        if inside:
            planned.append((product, [g.glacier_id for g in inside]))
    if not planned:
        msg = (f"No granule of {products[0].source!r} ({', '.join(p.product_id for p in products)}) covers "
               f"{'the chosen glaciers' if glaciers else 'any outline'} of {str(outlines)!r}.")
        raise RasterError(msg)
    return planned


def map_product(models: Sequence[Any], product: str | os.PathLike | Product, dem: Sequence[str | os.PathLike],
                outlines: str | os.PathLike, out_dir: str | os.PathLike, *, glaciers: Sequence[str] | None = None,
                calibrator: Any = None, context_m: float = DEFAULT_CONTEXT_M, quicklook: bool = True,
                progress: Callable[[int, int, str], None] | None = None, **map_kwargs: Any) -> ProductMapResult:
    """Map the glaciers of one satellite product; write per-glacier COGs, the product table, the time series.

    Args:
        models: loaded :class:`~facies_bench.models.FaciesModel` instances (ensembled).
        product: SAFE folder, Landsat folder / MTL file, STAC item path or URL, or a :class:`Product`.
        dem: DEM tiles (or folders of tiles) covering the glaciers.
        outlines: RGI 7.0 / GLIMS outlines (shapefile, GeoPackage, GeoJSON); any CRS.
        out_dir: output folder; the product's files go to ``out_dir/<product id>/``.
        glaciers: RGI/GLIMS ids or names to map; None = every glacier intersecting the product.
        calibrator: calibrator(s) of the confidence (:func:`~facies_bench.mapping.pipeline.load_calibration`).
        context_m: context around each glacier, metres (cast shadows from the surrounding relief).
        quicklook: write a quicklook PNG per glacier.
        progress: called with (glaciers done, glaciers total, glacier label).
        **map_kwargs: passed to :func:`~facies_bench.mapping.predict_scene.map_scene` (mode, tile,
            smoothing, min_island_px, refine_margin, ...).

    Returns:
        A :class:`ProductMapResult`.

    Raises:
        RasterError, UnknownNameError: bad product, DEM, outlines or glacier selection (each message
            names the file).
    """
    started = time.perf_counter()
    models = list(models)
    if not models:
        raise ValueError("map_product needs at least one model.")
    product = open_product(product)
    tiles = open_dem_tiles(dem)
    chosen = load_glaciers(outlines, crs=product.grid.crs, scene_bounds=product.grid.bounds, selectors=glaciers)
    needed = required_features(models)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / product_slug(product.product_id)
    tmp = out_dir / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    cache = {} if "GDAL_CACHEMAX" in os.environ else {"GDAL_CACHEMAX": GDAL_CACHE_MB}
    try:
        with rasterio.Env(**cache):
            rows = _map_glaciers(models, product, chosen, tiles, tmp, final=final, needed=needed, calibrator=calibrator,
                                 context_m=context_m, quicklook=quicklook, progress=progress, **map_kwargs)
        settings = {"models": [getattr(m, "model_name", None) or type(m).__name__ for m in models],
                    "features": list(needed), "calibrated": calibrator is not None, "context_m": float(context_m),
                    "glaciers": list(glaciers or []), "outlines": str(outlines), "dem": [t.path for t in tiles],
                    "resampling": "bilinear to 10 m (as the paper)",
                    **{k: v for k, v in map_kwargs.items() if isinstance(v, (str, int, float, bool, type(None)))}}
        outputs = write_product_table(rows, tmp, product=product.describe(), settings=settings)
        replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    outputs = {k: final / Path(v).name for k, v in outputs.items()}
    try:
        outputs.update(write_time_series(out_dir))
    except FaciesBenchError as exc:  # other tables in OUT_DIR may be foreign; this product's are written
        log.warning("Time series of %s not rebuilt: %s", out_dir, exc)
    table = pd.read_csv(outputs["table_csv"])
    return ProductMapResult(product=product, folder=final, table=table, outputs=outputs,
                            seconds=time.perf_counter() - started)


def _map_glaciers(models: Sequence[Any], product: Product, glaciers: Sequence[GlacierOutline], tiles: Sequence[DemTile],
                  folder: Path, *, final: Path, needed: Sequence[str], calibrator: Any, context_m: float, quicklook: bool,
                  progress: Callable[[int, int, str], None] | None, **map_kwargs: Any) -> list[dict[str, Any]]:
    """Map the glaciers one window at a time; the table rows, in order."""
    rows = []
    for i, glacier in enumerate(glaciers, 1):
        inputs = glacier_inputs(product, glacier, tiles, needed=needed, context_m=context_m)
        if isinstance(inputs, str):
            log.warning("Glacier %s of %s not mapped: %s", glacier.label, product.product_id, inputs)
            rows.append(_empty_row(product, glacier, inputs))
        else:
            rows.append(_map_one(models, product, inputs, folder, calibrator=calibrator, quicklook=quicklook,
                                 final=final, **map_kwargs))
        del inputs
        if progress is not None:
            progress(i, len(glaciers), glacier.label)
    return rows


def _map_one(models: Sequence[Any], product: Product, inputs: GlacierInputs, folder: Path, *, calibrator: Any,
             quicklook: bool, final: Path, **map_kwargs: Any) -> dict[str, Any]:
    """Map one glacier, write its COGs and quicklook into ``folder``; return its table row."""
    scene_map = map_scene(models, inputs.bands, inputs.ids, calibrator=calibrator, **map_kwargs)
    box = inputs.box
    crop = dataclasses.replace(scene_map, classes=scene_map.classes[box], confidence=scene_map.confidence[box],
                               probabilities=None)
    r, c = box
    grid = window_grid(inputs.grid, Window(c.start, r.start, c.stop - c.start, r.stop - r.start))
    g = inputs.glacier
    stem = g.slug
    tags = {"SCENE_ID": product.product_id, "PRODUCT_ID": product.product_id, "GLACIER": g.name or g.glacier_id,
            "GLACIER_ID": g.glacier_id, "SENSOR": product.sensor, "DATE": product.date,
            "SUN_AZIMUTH": f"{product.sun_azimuth:.4f}", "SUN_ELEVATION": f"{product.sun_elevation:.4f}"}
    written = write_outputs(crop, grid, folder / f"{stem}_facies.tif", confidence=folder / f"{stem}_confidence.tif",
                            quicklook=folder / f"{stem}_quicklook.png" if quicklook else None,
                            optical=inputs.optical[(slice(None), *box)], outline=inputs.ids[box] > 0,
                            title=f"{g.label} - {product.product_id}", tags=tags)
    return glacier_row(product, inputs, crop.classes, grid=grid,
                       outputs={kind: final / Path(p).name for kind, p in written.items()})
