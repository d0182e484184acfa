"""Raster and outline input/output of the mapper.

Reading: the 6-band optical scene fixes the grid (CRS, transform, shape); every auxiliary raster
(DEM, slope, shadow mask, hillshade, proximity) must lie on that grid, or be reprojected onto it
when the caller asks for it (``resample=True``, ``--resample``): the mapper never guesses.
Nodata (the raster's nodata value, internal masks, NaN) becomes NaN.

Outlines are GeoJSON (read with :mod:`json`; coordinates in the file's ``crs`` member or
EPSG:4326 as RFC 7946 says) or, through ``pyogrio``, any OGR vector format
(GeoPackage, shapefile).  They are rasterised onto the scene grid with one positive id per
outline feature, so elevation and proximity can be normalised per glacier.

Large scenes: with a ``workdir`` the readers copy the rasters, a block of rows at a time
(windowed reads), into float32 files there and return :class:`DiskBand` objects that map their
file only for the duration of a slice, so a 10,000 x 10,000 scene never sits in memory; the
mapper reads the tile windows it needs from them.

Writing: cloud-optimised GeoTIFFs through GDAL's COG driver (tiled 512 x 512, DEFLATE,
overviews), written to a temporary sibling and renamed into place.  The facies map is uint8 class
codes with nodata :data:`NODATA_CLASS` and the schema's colour table; the confidence map is
float32 with NaN nodata.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import rasterio
import rasterio.features
import rasterio.warp
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from facies_bench import schema
from facies_bench.atomic import atomic_path
from facies_bench.errors import RasterError
from facies_bench.raster import RasterGrid as RasterGrid  # re-exported: the grid lived here before

log = logging.getLogger(__name__)

#: Class code written outside the glacier outlines and where the input had nodata.
NODATA_CLASS = 255
#: Block size of the cloud-optimised GeoTIFFs.
COG_BLOCKSIZE = 512
#: Vector formats read without optional dependencies.
GEOJSON_SUFFIXES = (".geojson", ".json")


#: Pixels per block of rows when copying rasters to disk or deriving features (16 MiB float32).
BLOCK_PX = 4 * 1024 * 1024


def block_rows(width: int, *, budget_px: int = BLOCK_PX) -> int:
    """Rows per block for a raster ``width`` pixels wide (at least 16)."""
    return max(16, budget_px // max(int(width), 1))


class DiskBand:
    """An (H, W) float32 band in a raw file, read and written by 2-D slicing.

    The file is memory-mapped only while a slice is copied in or out, so a process holding many
    large bands keeps only what it is working on resident.

    Args:
        path: the raw file (created, zero-filled, when ``create`` is True).
        shape: (H, W).
        create: create the file.
    """

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, path: str | os.PathLike, shape: tuple[int, int], *, create: bool = False):
        self.path = Path(path)
        self.shape = (int(shape[0]), int(shape[1]))
        if create:
            with self.path.open("wb") as fh:
                fh.truncate(self.shape[0] * self.shape[1] * self.dtype.itemsize)

    def _map(self, mode: Literal["r", "r+"]) -> np.memmap:
        return np.memmap(self.path, dtype=self.dtype, mode=mode, shape=self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        mm = self._map("r")
        try:
            return np.array(mm[key])
        finally:
            del mm

    def __setitem__(self, key: Any, value: Any) -> None:
        mm = self._map("r+")
        try:
            mm[key] = value
            mm.flush()
        finally:
            del mm

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:, :]
        return out if dtype is None else out.astype(dtype, copy=False)


class DiskStack:
    """(C, H, W) view over C :class:`DiskBand` objects: ``stack[i]`` is a band, ``stack[:, r, c]`` an array."""

    def __init__(self, bands: list[DiskBand]):
        self.bands = list(bands)
        self.shape = (len(self.bands), *self.bands[0].shape)
        self.ndim = 3
        self.dtype = DiskBand.dtype

    def __len__(self) -> int:
        return len(self.bands)

    def __iter__(self) -> Iterator[DiskBand]:
        return iter(self.bands)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)):
            return self.bands[key]
        if not isinstance(key, tuple):
            key = (key,)
        first, rest = key[0], key[1:]
        chosen = self.bands[first] if isinstance(first, slice) else [self.bands[i] for i in np.atleast_1d(first)]
        rest = rest or (slice(None),)
        return np.stack([b[rest] for b in chosen])


#: A band the mapper reads and writes by 2-D slicing: an (H, W) array in memory or a :class:`DiskBand`.
Band: TypeAlias = "np.ndarray | DiskBand"
#: A (C, H, W) stack read by slicing: an array in memory or a :class:`DiskStack`.
Stack: TypeAlias = "np.ndarray | DiskStack"


@dataclass
class RasterData:
    """Bands read from a raster, nodata as NaN."""

    array: np.ndarray | DiskStack  #: (count, H, W) float32 (on disk when read with a workdir)
    grid: RasterGrid
    tags: dict[str, str]
    path: str


def _open(path: str | os.PathLike, what: str) -> Any:
    path = str(path)
    if not Path(path).exists():
        msg = f"{what} raster {path!r} does not exist."
        raise RasterError(msg)
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        msg = f"{what} raster {path!r} cannot be read as a raster ({exc}); give a GeoTIFF or another GDAL raster."
        raise RasterError(msg) from exc


def _read_nan(src: Any, *, indexes: Any = None, window: Window | None = None) -> np.ndarray:
    """Bands as float32 with NaN where the dataset mask says nodata."""
    data = src.read(indexes, window=window).astype(np.float32)
    masks = src.read_masks(indexes, window=window)
    data[masks == 0] = np.nan
    return data


def _copy_to_disk(src: Any, workdir: str | os.PathLike, stem: str, *, indexes: list[int],
                  scale: float = 1.0) -> DiskStack:
    """Copy bands of an open dataset (or WarpedVRT) into :class:`DiskBand` files, block by block."""
    height, width = src.height, src.width
    bands = [DiskBand(Path(workdir) / f"{stem}_{i}.f32", (height, width), create=True) for i in indexes]
    step = block_rows(width * len(indexes))
    for r0 in range(0, height, step):
        n = min(step, height - r0)
        block = _read_nan(src, indexes=indexes, window=Window(0, r0, width, n))
        if scale != 1.0:
            block *= np.float32(scale)
        for band, rows in zip(bands, block, strict=True):
            band[r0:r0 + n] = rows
    return DiskStack(bands)


def grid_mismatch(reference: RasterGrid, other: RasterGrid, *, tolerance: float = 1e-6) -> list[str]:
    """How ``other`` differs from ``reference`` (empty when they are the same grid)."""
    problems = []
    if (reference.crs is None) != (other.crs is None) or (reference.crs is not None and reference.crs != other.crs):
        problems.append(f"CRS {other.crs.to_string() if other.crs else None} vs {reference.crs.to_string() if reference.crs else None}")
    if other.shape != reference.shape:
        problems.append(f"shape {other.height}x{other.width} vs {reference.height}x{reference.width}")
    tol = tolerance * max(reference.pixel_size, 1e-12)
    if not all(math.isclose(a, b, abs_tol=tol) for a, b in zip(tuple(other.transform)[:6], tuple(reference.transform)[:6], strict=True)):
        t, r = other.transform, reference.transform
        problems.append(f"transform (pixel {t.a:g}x{t.e:g}, origin {t.c:g},{t.f:g}) vs (pixel {r.a:g}x{r.e:g}, origin {r.c:g},{r.f:g})")
    return problems


def read_optical(path: str | os.PathLike, *, scale: float = 1.0, workdir: str | os.PathLike | None = None) -> RasterData:
    """Read the 6-band optical scene (blue, green, red, NIR, SWIR1, SWIR2 TOA reflectance).

    Args:
        path: a GDAL raster with exactly 6 bands in ``schema.OPTICAL_FEATURES`` order.
        scale: factor applied to the values (e.g. 1e-4 for reflectance stored as integers x 10,000).
        workdir: copy the bands into :class:`DiskBand` files here (windowed, bounded memory)
            instead of reading them into memory.

    Raises:
        RasterError: the file is missing or unreadable, does not have 6 bands, has a rotated or
            non-square grid, or its values are not reflectance (most above 2).
    """
    with _open(path, "Optical") as src:
        if src.count != len(schema.OPTICAL_FEATURES):
            msg = (f"Optical raster {str(path)!r} has {src.count} band(s); the mapper needs exactly "
                   f"{len(schema.OPTICAL_FEATURES)} bands in the order {', '.join(schema.OPTICAL_FEATURES)} "
                   "(top-of-atmosphere reflectance). Stack the bands into one 6-band GeoTIFF.")
            raise RasterError(msg)
        grid = RasterGrid.from_dataset(src)
        t = grid.transform
        if t.b != 0 or t.d != 0 or not math.isclose(abs(t.a), abs(t.e), rel_tol=1e-6):
            msg = (f"Optical raster {str(path)!r} has a rotated or non-square pixel grid (transform {tuple(t)[:6]}); "
                   "the mapper needs a north-up grid with square pixels. Warp it first (gdalwarp -tr X X).")
            raise RasterError(msg)
        tags = {k.lower(): v for k, v in src.tags().items()}
        # the reflectance check looks at a decimated copy (at most ~1 Mpx per band)
        step = max(1, int(np.ceil(max(src.height, src.width) / 1024)))
        out_shape = (src.count, -(-src.height // step), -(-src.width // step))
        sample = src.read(out_shape=out_shape, resampling=Resampling.nearest).astype(np.float32)
        sample[src.read_masks(out_shape=out_shape, resampling=Resampling.nearest) == 0] = np.nan
        finite = sample[np.isfinite(sample)] * np.float32(scale)
        if finite.size and float(np.percentile(finite, 50)) > 2.0:
            msg = (f"Optical raster {str(path)!r} has a median value of {float(np.percentile(finite, 50)):g}; TOA "
                   "reflectance lies in about [0, 1.5]. If the bands are scaled integers, pass the scale "
                   "(e.g. --reflectance-scale 0.0001).")
            raise RasterError(msg)
        data: np.ndarray | DiskStack
        if workdir is not None:
            data = _copy_to_disk(src, workdir, "optical", indexes=list(range(1, src.count + 1)), scale=scale)
        else:
            data = _read_nan(src) * np.float32(scale)
    return RasterData(array=data, grid=grid, tags=tags, path=str(path))


def read_aligned(path: str | os.PathLike, grid: RasterGrid, *, what: str, resample: bool = False,
                 resampling: Resampling = Resampling.bilinear, reference_path: str | None = None,
                 workdir: str | os.PathLike | None = None) -> np.ndarray | DiskBand:
    """Read a single-band raster on ``grid``, reprojecting only when ``resample`` is True.

    Args:
        path: the raster (first band is read).
        grid: the scene grid it must match.
        what: name used in messages ("DEM", "slope", ...).
        resample: reproject onto ``grid`` instead of failing when the grids differ.
        resampling: resampling method used when reprojecting.
        reference_path: the optical scene's path, for messages.
        workdir: copy (or reproject, through a ``WarpedVRT``) block by block into a
            :class:`DiskBand` file here instead of reading into memory.

    Returns:
        (H, W) float32 with NaN at nodata (a :class:`DiskBand` with a ``workdir``).

    Raises:
        RasterError: the grids differ and ``resample`` is False, or the raster is unreadable.
    """
    with _open(path, what) as src:
        other = RasterGrid.from_dataset(src)
        problems = grid_mismatch(grid, other)
        stem = "".join(ch if ch.isalnum() else "_" for ch in what.lower())
        if not problems:
            if workdir is not None:
                return _copy_to_disk(src, workdir, stem, indexes=[1])[0]
            return _read_nan(src, indexes=1)
        if not resample:
            ref = f"{reference_path!r}" if reference_path else "the optical scene"
            msg = (f"{what} raster {str(path)!r} is not on the grid of {ref}: {'; '.join(problems)}. "
                   "Pass --resample (resample=True) to reproject it onto the optical grid, or supply it on that grid.")
            raise RasterError(msg)
        if src.crs is None or grid.crs is None:
            msg = f"{what} raster {str(path)!r} cannot be reprojected: {'it' if src.crs is None else 'the scene'} has no CRS."
            raise RasterError(msg)
        log.info("Reprojecting %s %s onto the scene grid (%s): %s", what, path, resampling.name, "; ".join(problems))
        if workdir is not None:
            from rasterio.vrt import WarpedVRT

            nodata = {"src_nodata": src.nodata} if src.nodata is not None else {}
            with WarpedVRT(src, crs=grid.crs, transform=grid.transform, width=grid.width, height=grid.height,
                           resampling=resampling, nodata=np.nan, dtype="float32", **nodata) as vrt:
                return _copy_to_disk(vrt, workdir, stem, indexes=[1])[0]
        source = _read_nan(src, indexes=1)
        out = np.full(grid.shape, np.nan, dtype=np.float32)
        rasterio.warp.reproject(source, out, src_transform=src.transform, src_crs=src.crs, src_nodata=np.nan,
                                dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=np.nan, resampling=resampling)
        return out


def find_sun_angles(tags: dict[str, str]) -> tuple[float | None, float | None]:
    """Sun azimuth and elevation (degrees) from raster metadata tags, if present.

    Understands ``SUN_AZIMUTH`` / ``SUN_ELEVATION`` (Landsat MTL, this package), and Sentinel-2's
    ``MEAN_SOLAR_AZIMUTH_ANGLE`` / ``MEAN_SOLAR_ZENITH_ANGLE`` (elevation = 90 - zenith).
    """
    low = {k.lower(): v for k, v in tags.items()}

    def first(*keys: str) -> float | None:
        for key in keys:
            if key in low:
                try:
                    return float(low[key])
                except ValueError:
                    continue
        return None

    azimuth = first("sun_azimuth", "solar_azimuth", "mean_solar_azimuth_angle", "sun_azimuth_angle")
    elevation = first("sun_elevation", "solar_elevation", "sun_elevation_angle")
    if elevation is None:
        zenith = first("mean_solar_zenith_angle", "sun_zenith", "solar_zenith", "sun_zenith_angle")
        elevation = None if zenith is None else 90.0 - zenith
    return azimuth, elevation


# --------------------------------------------------------------------------------------------
# Outlines
# --------------------------------------------------------------------------------------------


def _geojson_crs(payload: dict[str, Any]) -> CRS:
    crs = payload.get("crs")
    if isinstance(crs, dict):
        name = (crs.get("properties") or {}).get("name")
        if name:
            if "CRS84" in name.upper():
                return CRS.from_epsg(4326)
            return CRS.from_user_input(name.replace("urn:ogc:def:crs:", "").replace("::", ":"))
    return CRS.from_epsg(4326)


def _geometries_from_geojson(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict):
        return []
    kind = payload.get("type")
    if kind == "FeatureCollection":
        return [g for f in payload.get("features", []) for g in _geometries_from_geojson(f)]
    if kind == "Feature":
        geom = payload.get("geometry")
        return [geom] if geom else []
    if kind in ("Polygon", "MultiPolygon", "GeometryCollection"):
        return [payload]
    return []


def read_outlines(path: str | os.PathLike) -> tuple[list[dict[str, Any]], CRS]:
    """Glacier outline polygons (GeoJSON geometry dicts, one per feature) and their CRS.

    Raises:
        RasterError: the file is missing, unreadable, has no CRS (a vector file other than
            GeoJSON) or has no polygons.
    """
    path = Path(path)
    if not path.exists():
        raise RasterError(f"Outline file {str(path)!r} does not exist.")
    if path.suffix.lower() in GEOJSON_SUFFIXES:
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise RasterError(f"Outline file {str(path)!r} is not valid GeoJSON: {exc}.") from exc
        geoms, crs = _geometries_from_geojson(payload), _geojson_crs(payload)
    else:
        geoms, crs = _read_ogr(path)
    polygons = [g for g in geoms if g.get("type") in ("Polygon", "MultiPolygon", "GeometryCollection")]
    if not polygons:
        msg = f"Outline file {str(path)!r} contains no polygon geometries; give glacier outlines as (multi)polygons."
        raise RasterError(msg)
    return polygons, crs


def _read_ogr(path: Path) -> tuple[list[dict[str, Any]], CRS]:
    """Polygons and CRS of any OGR vector file (GeoPackage, shapefile, ...) through pyogrio."""
    import shapely
    from pyogrio.errors import DataLayerError, DataSourceError
    from pyogrio.raw import read

    try:
        meta, _, geometry, _ = read(str(path), read_geometry=True)
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise RasterError(f"Outline file {str(path)!r} cannot be read as a vector file: {exc}".rstrip(".") + ".") from exc
    if not meta.get("crs"):
        msg = (f"Outline file {str(path)!r} has no coordinate reference system (a shapefile needs its .prj "
               "beside it); without one the outlines cannot be placed on the scene.")
        raise RasterError(msg)
    geoms = [shapely.geometry.mapping(g) for g in shapely.from_wkb(geometry) if g is not None]
    return geoms, CRS.from_user_input(meta["crs"])


def rasterise_outlines(path: str | os.PathLike, grid: RasterGrid, *, scene_path: str | None = None) -> np.ndarray:
    """Rasterise glacier outlines onto the scene grid.

    Args:
        path: outline file (GeoJSON, GeoPackage, shapefile or any OGR vector format).
        grid: the scene grid.
        scene_path: the scene's path, for messages.

    Returns:
        (H, W) int32 glacier ids: 0 outside every outline, ``i + 1`` inside the i-th outline
        (a pixel is inside when its centre is).

    Raises:
        RasterError: no pixel centre of the scene falls inside any outline.
    """
    geoms, crs = read_outlines(path)
    if grid.crs is not None and crs != grid.crs:
        geoms = [rasterio.warp.transform_geom(crs, grid.crs, g) for g in geoms]
    ids = rasterio.features.rasterize(((g, i + 1) for i, g in enumerate(geoms)), out_shape=grid.shape,
                                      transform=grid.transform, fill=0, dtype="int32")
    if not ids.any():
        xs, ys = [], []
        for g in geoms:
            b = rasterio.features.bounds(g)
            xs += [b[0], b[2]]
            ys += [b[1], b[3]]
        msg = (f"Outlines {str(path)!r} do not overlap the scene {scene_path or ''!r}: outline bounds "
               f"({min(xs):.1f}, {min(ys):.1f}, {max(xs):.1f}, {max(ys):.1f}) vs scene bounds "
               f"({', '.join(f'{v:.1f}' for v in grid.bounds)}) in {grid.crs.to_string() if grid.crs else 'the scene CRS'}. "
               "Check that the outlines belong to this scene and carry the right CRS.")
        raise RasterError(msg)
    return ids


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def class_colormap() -> dict[int, tuple[int, int, int, int]]:
    """The schema's class colours as a GDAL colour table (code -> RGBA); nodata is transparent."""
    cmap = {c.index: (*c.colour, 255) for c in schema.CLASSES}
    cmap[NODATA_CLASS] = (0, 0, 0, 0)
    return cmap


def _write_cog(path: str | os.PathLike, array: np.ndarray, grid: RasterGrid, *, dtype: str, nodata: float,
               resampling: str, colormap: dict | None, tags: dict[str, Any] | None, description: str) -> Path:
    path = Path(path)
    if array.shape != grid.shape:
        raise RasterError(f"Cannot write {str(path)!r}: array shape {array.shape} differs from the grid {grid.shape}.")
    profile = {"driver": "COG", "width": grid.width, "height": grid.height, "count": 1, "dtype": dtype,
               "crs": grid.crs, "transform": grid.transform, "nodata": nodata, "blocksize": COG_BLOCKSIZE,
               "compress": "deflate", "overview_resampling": resampling, "bigtiff": "if_safer"}
    with atomic_path(path, suffix=".tif") as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(array.astype(dtype, copy=False), 1)
        dst.set_band_description(1, description)
        if colormap is not None:
            dst.write_colormap(1, colormap)
        if tags:
            dst.update_tags(**{k: str(v) for k, v in tags.items()})
    return path


def write_facies_map(path: str | os.PathLike, classes: np.ndarray, grid: RasterGrid, *,
                     tags: dict[str, Any] | None = None) -> Path:
    """Write a facies map as a cloud-optimised GeoTIFF.

    Args:
        path: output file.
        classes: (H, W) uint8 class codes in ``schema.CLASSES`` order, :data:`NODATA_CLASS` elsewhere.
        grid: the scene grid (CRS and transform are copied).
        tags: extra metadata tags.
    """
    class_tags = {f"CLASS_{c.index}": c.name for c in schema.CLASSES}
    return _write_cog(path, classes, grid, dtype="uint8", nodata=NODATA_CLASS, resampling="nearest",
                      colormap=class_colormap(), tags={**class_tags, **(tags or {})}, description="facies class")


def write_confidence_map(path: str | os.PathLike, confidence: np.ndarray, grid: RasterGrid, *,
                         tags: dict[str, Any] | None = None) -> Path:
    """Write a confidence map (float32, NaN nodata) as a cloud-optimised GeoTIFF."""
    return _write_cog(path, confidence, grid, dtype="float32", nodata=float("nan"), resampling="average",
                      colormap=None, tags=tags, description="confidence")
