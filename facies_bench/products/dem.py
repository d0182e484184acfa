"""DEM tiles (e.g. Copernicus GLO-30, 1 x 1 degree GeoTIFFs in EPSG:4326) on a scene window.

:func:`read_dem` mosaics the tiles that overlap a window of the product grid
(``rasterio.merge.merge`` limited to the window's bounds snapped to the tiles' pixel grid, so only
that part is read and no pixel is resampled twice) and warps
the mosaic onto the window with bilinear resampling (``rasterio.warp.reproject``), nodata as
NaN.  The tiles must share one CRS (a tile set does); they may have different pixel sizes.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.merge
import rasterio.warp
from rasterio.enums import Resampling

from facies_bench.errors import RasterError
from facies_bench.raster import RasterGrid

log = logging.getLogger(__name__)

#: Raster suffixes taken from a folder given as a DEM.
DEM_SUFFIXES = (".tif", ".tiff", ".vrt", ".dt2", ".hgt")


@dataclass(frozen=True)
class DemTile:
    """A DEM tile's path, CRS and bounds (in its CRS)."""

    path: str
    crs: rasterio.crs.CRS
    bounds: tuple[float, float, float, float]


def expand_dem_paths(paths: Sequence[str | os.PathLike]) -> list[str]:
    """DEM tile paths; a folder stands for every raster file in it.

    Raises:
        RasterError: no path given, a path that does not exist, or an empty folder.
    """
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            tiles = sorted(str(f) for f in path.iterdir() if f.suffix.lower() in DEM_SUFFIXES)
            if not tiles:
                raise RasterError(f"DEM folder {str(path)!r} holds no raster tiles ({', '.join(DEM_SUFFIXES)}).")
            out += tiles
        elif path.exists():
            out.append(str(path))
        else:
            raise RasterError(f"DEM tile {str(path)!r} does not exist.")
    if not out:
        raise RasterError("No DEM tile given; pass --dem TILE (repeatable) or a folder of tiles.")
    return out


def open_dem_tiles(paths: Sequence[str | os.PathLike]) -> list[DemTile]:
    """Index DEM tiles (CRS and bounds), checking each is readable and all share one CRS.

    Raises:
        RasterError: a tile is unreadable or has no CRS, or the tiles are in different CRSs.
    """
    tiles = []
    for path in expand_dem_paths(paths):
        try:
            with rasterio.open(path) as src:
                if src.crs is None:
                    raise RasterError(f"DEM tile {path!r} has no CRS; it cannot be placed on the scene.")
                tiles.append(DemTile(path=path, crs=src.crs, bounds=tuple(src.bounds)))
        except rasterio.errors.RasterioIOError as exc:
            raise RasterError(f"DEM tile {path!r} cannot be read as a raster ({str(exc).splitlines()[0]}).") from exc
    crss = {t.crs.to_string() for t in tiles}
    if len(crss) > 1:
        listed = ", ".join(f"{Path(t.path).name} ({t.crs.to_string()})" for t in tiles)
        raise RasterError(f"DEM tiles are in different CRSs: {listed}; warp them to one CRS first (gdalwarp -t_srs).")
    return tiles


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _snap(bounds: tuple[float, float, float, float], origin: rasterio.Affine,
          res: tuple[float, float]) -> tuple[float, float, float, float]:
    """Bounds grown outwards to the pixel edges of the grid with ``origin`` and ``res``."""
    rx, ry = abs(res[0]), abs(res[1])
    left = origin.c + math.floor(round((bounds[0] - origin.c) / rx, 6)) * rx
    right = origin.c + math.ceil(round((bounds[2] - origin.c) / rx, 6)) * rx
    top = origin.f - math.floor(round((origin.f - bounds[3]) / ry, 6)) * ry
    bottom = origin.f - math.ceil(round((origin.f - bounds[1]) / ry, 6)) * ry
    return left, bottom, right, top


def _on_grid(transform: rasterio.Affine, origin: rasterio.Affine, res: tuple[float, float]) -> bool:
    """Whether a tile's pixel edges fall on the grid of ``origin`` and ``res`` (same pixel size)."""
    if not (math.isclose(abs(transform.a), abs(res[0]), rel_tol=1e-9) and math.isclose(abs(transform.e), abs(res[1]), rel_tol=1e-9)):
        return False
    fx, fy = (transform.c - origin.c) / abs(res[0]), (origin.f - transform.f) / abs(res[1])
    return abs(fx - round(fx)) < 1e-6 and abs(fy - round(fy)) < 1e-6


def read_dem(tiles: Sequence[DemTile], grid: RasterGrid, *, resampling: Resampling = Resampling.bilinear) -> np.ndarray:
    """Elevation (m) on ``grid`` (a window of the product grid) from the overlapping tiles.

    Args:
        tiles: from :func:`open_dem_tiles`.
        grid: the target grid (CRS, transform, shape).
        resampling: warp kernel (bilinear, as the paper's resampling).

    Returns:
        (H, W) float32, NaN where no tile has data.

    Raises:
        RasterError: no tile overlaps the grid.
    """
    src_crs = tiles[0].crs
    bounds = rasterio.warp.transform_bounds(grid.crs, src_crs, *grid.bounds, densify_pts=21)
    chosen = [t for t in tiles if _overlaps(t.bounds, bounds)]
    if not chosen:
        listed = ", ".join(Path(t.path).name for t in tiles)
        msg = (f"DEM tile(s) {listed} do not overlap the area to map (bounds {tuple(round(v, 4) for v in bounds)} in "
               f"{src_crs.to_string()}); pass the tiles that cover it.")
        raise RasterError(msg)
    with rasterio.open(chosen[0].path) as first:
        res, origin = first.res, first.transform
    padded = _snap((bounds[0] - 2 * res[0], bounds[1] - 2 * res[1], bounds[2] + 2 * res[0], bounds[3] + 2 * res[1]),
                   origin, res)
    datasets = [rasterio.open(t.path) for t in chosen]
    # tiles of one set (GLO-30, SRTM) share one pixel grid: the mosaic then copies pixels and only the
    # warp below resamples; tiles on shifted grids are merged bilinearly (resampled twice)
    aligned = all(_on_grid(ds.transform, origin, res) for ds in datasets)
    try:
        mosaic, transform = rasterio.merge.merge(datasets, bounds=padded, res=res, dtype="float32", nodata=np.nan,
                                                 resampling=Resampling.nearest if aligned else Resampling.bilinear)
    finally:
        for ds in datasets:
            ds.close()
    out = np.full(grid.shape, np.nan, np.float32)
    rasterio.warp.reproject(mosaic[0], out, src_transform=transform, src_crs=src_crs, src_nodata=np.nan,
                            dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=np.nan, resampling=resampling)
    return out
