"""A satellite product as the mapper sees it: six bands, their TOA conversion, a 10 m grid, the sun.

Every reader (:mod:`~facies_bench.products.sentinel2`, :mod:`~facies_bench.products.landsat`,
:mod:`~facies_bench.products.stac`) returns a :class:`Product`; :func:`read_toa` turns any window
of its 10 m grid into top-of-atmosphere reflectance, (6, h, w) float32 in
``schema.OPTICAL_FEATURES`` order (blue, green, red, nir, swir1, swir2), NaN at nodata.

Radiometry: ``TOA = (DN * gain + offset) / s`` with ``s = sin(sun elevation)`` for Landsat
(Collection 2 reflectance rescaling is not sun-corrected) and ``s = 1`` for Sentinel-2 L1C (whose
DNs are already TOA reflectance x quantification value, plus the radiometric offset of processing
baseline 04.00 and later).

Resampling: the paper resampled all images "to 10 m x 10 m grids with bilinear interpolation to
match the spatial resolution of the Sentinel-2 data" (preprint, Section 2).  Bands coarser than
the 10 m grid (Sentinel-2 B11/B12 at 20 m, Landsat at 30 m) are therefore warped onto it with
GDAL's bilinear kernel (through a ``WarpedVRT``, only the requested window).  Nodata never leaks
in: the bilinear kernel ignores nodata source pixels, and a 10 m pixel whose nearest source
pixel is nodata (fill value, Landsat 7 SLC-off gap) is set to NaN, so gaps keep their extent
instead of being filled from their edges.

Memory: only the requested window is read (float32), band by band; a whole 10,980 x 10,980 tile
is never materialised by the mapper, which reads one glacier window at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from facies_bench import schema
from facies_bench.errors import RasterError
from facies_bench.raster import RasterGrid

log = logging.getLogger(__name__)

#: Pixel side (m) of the grid every product is resampled to (the paper's and Sentinel-2's).
TARGET_RESOLUTION = 10.0


@dataclass(frozen=True)
class BandSource:
    """One optical band of a product: where it is and how its DNs become TOA reflectance.

    Attributes:
        name: the band's role, one of ``schema.OPTICAL_FEATURES``.
        href: local path or URL (``http(s)://``, ``s3://``; read through GDAL's virtual file systems).
        band_id: the sensor's own band name (``B02``, ``B6``...), for messages.
        gain: multiplicative term of ``DN * gain + offset``.
        offset: additive term.
        nodata: DN values that mean "no data" (fill).
    """

    name: str
    href: str
    band_id: str
    gain: float
    offset: float
    nodata: tuple[float, ...] = (0.0,)


@dataclass(frozen=True)
class Product:
    """A satellite product ready for TOA reading on its 10 m grid.

    Attributes:
        product_id: the product's identifier (SAFE name, Landsat product id, STAC item id).
        sensor: ``schema.SENSOR_NAMES`` entry (``Sentinel-2``, ``Landsat 8``...).
        acquired: acquisition time (UTC).
        grid: the 10 m grid (CRS, transform, shape) every band is read on.
        sun_azimuth: degrees clockwise from north.
        sun_elevation: degrees above the horizon.
        bands: the six bands in ``schema.OPTICAL_FEATURES`` order.
        sun_correction: divide by ``sin(sun_elevation)`` (Landsat reflectance rescaling).
        source: the path or URL the product was read from, for messages.
        metadata: reader-specific facts worth recording (processing baseline, metadata files...).
    """

    product_id: str
    sensor: str
    acquired: dt.datetime
    grid: RasterGrid
    sun_azimuth: float
    sun_elevation: float
    bands: tuple[BandSource, ...]
    sun_correction: bool
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def date(self) -> str:
        """Acquisition date, ISO ``YYYY-MM-DD``."""
        return self.acquired.date().isoformat()

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary (for tables and tags)."""
        return {"product_id": self.product_id, "sensor": self.sensor, "acquired": self.acquired.isoformat(),
                "date": self.date, "sun_azimuth": self.sun_azimuth, "sun_elevation": self.sun_elevation,
                "crs": self.grid.crs.to_string() if self.grid.crs else None, "transform": list(self.grid.transform)[:6],
                "shape": list(self.grid.shape), "source": self.source,
                "bands": {b.name: {"band_id": b.band_id, "href": b.href, "gain": b.gain, "offset": b.offset}
                          for b in self.bands},
                **{k: v for k, v in self.metadata.items() if isinstance(v, (str, int, float, bool))}}


def check_sun(sun_azimuth: float | None, sun_elevation: float | None, *, where: str) -> tuple[float, float]:
    """Validated sun angles; raise a one-line error naming ``where`` when they are missing or absurd."""
    if sun_azimuth is None or sun_elevation is None:
        missing = " and ".join(n for n, v in (("azimuth", sun_azimuth), ("elevation", sun_elevation)) if v is None)
        msg = (f"{where} gives no sun {missing}; the shadow mask and hillshade need both (and Landsat TOA needs the "
               "elevation). Use the complete metadata file of the product.")
        raise RasterError(msg)
    az, el = float(sun_azimuth), float(sun_elevation)
    if not (math.isfinite(az) and math.isfinite(el)) or not 0.0 < el <= 90.0:
        raise RasterError(f"{where} gives sun azimuth {az} and elevation {el} degrees; the elevation must lie in (0, 90].")
    return az % 360.0, el


def sensor_band_ids(sensor: str) -> tuple[str, ...]:
    """The sensor's band names for blue..swir2, from ``schema.SENSORS`` (``'B2'``, ``'B8'``, ...)."""
    return schema.SENSORS[schema.sensor_index(sensor)].band_ids


def grid_at_resolution(transform: Affine, width: int, height: int, crs: Any, *,
                       resolution: float = TARGET_RESOLUTION) -> RasterGrid:
    """The ``resolution`` grid with the same origin and extent as a (coarser or equal) band grid.

    Raises:
        RasterError: the band grid is rotated or has non-square pixels.
    """
    if transform.b != 0 or transform.d != 0 or not math.isclose(abs(transform.a), abs(transform.e), rel_tol=1e-6):
        raise RasterError(f"Band grid {tuple(transform)[:6]} is rotated or has non-square pixels; products must be north-up.")
    factor = abs(transform.a) / resolution
    new = Affine(resolution, 0.0, transform.c, 0.0, -resolution, transform.f)
    return RasterGrid(crs=crs, transform=new, width=int(round(width * factor)), height=int(round(height * factor)))


#: GDAL settings for bands read over HTTP: no directory listing (COG practice), bounded waits.
REMOTE_GDAL_OPTIONS = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_HTTP_TIMEOUT": "120", "GDAL_HTTP_MAX_RETRY": "3",
                       "GDAL_HTTP_RETRY_DELAY": "2"}


def gdal_env(href: str) -> rasterio.Env:
    """A ``rasterio.Env`` with :data:`REMOTE_GDAL_OPTIONS` for URLs (user settings in the environment win)."""
    if "://" not in href:
        return rasterio.Env()
    return rasterio.Env(**{k: v for k, v in REMOTE_GDAL_OPTIONS.items() if k not in os.environ})


def open_band(href: str, *, what: str) -> Any:
    """Open a band file (path or URL) with a one-line error naming it when that fails."""
    if "://" not in href and not Path(href).exists():
        raise RasterError(f"{what}: band file {href!r} does not exist.")
    try:
        with gdal_env(href):
            return rasterio.open(href)
    except rasterio.errors.RasterioIOError as exc:
        raise RasterError(f"{what}: band file {href!r} cannot be read ({str(exc).splitlines()[0]}).") from exc


def _full_window(grid: RasterGrid) -> Window:
    return Window(0, 0, grid.width, grid.height)


def read_band_dn(band: BandSource, grid: RasterGrid, window: Window, *, what: str) -> np.ndarray:
    """One band's DNs on ``window`` of ``grid`` (float32, NaN at nodata), bilinear when resampled."""
    h, w = int(window.height), int(window.width)
    with gdal_env(band.href), open_band(band.href, what=what) as src:
        if src.crs is None and grid.crs is not None:
            raise RasterError(f"{what}: band file {band.href!r} has no georeferencing (CRS); cannot place it on the product grid.")
        same = (src.crs == grid.crs and src.width == grid.width and src.height == grid.height
                and all(math.isclose(a, b, abs_tol=1e-6 * grid.pixel_size)
                        for a, b in zip(tuple(src.transform)[:6], tuple(grid.transform)[:6], strict=True)))
        if same:
            dn = src.read(1, window=window, boundless=True, fill_value=band.nodata[0] if band.nodata else 0).astype(np.float32)
            invalid = np.zeros(dn.shape, bool)
        else:
            nodata = band.nodata[0] if band.nodata else None
            common = {"crs": grid.crs, "transform": grid.transform, "width": grid.width, "height": grid.height}
            with WarpedVRT(src, resampling=Resampling.bilinear, src_nodata=nodata, nodata=np.nan, dtype="float32",
                           **common) as vrt:
                dn = vrt.read(1, window=window, boundless=False)
            with WarpedVRT(src, resampling=Resampling.nearest, src_nodata=nodata, nodata=nodata,
                           **common) as nearest:
                near = nearest.read(1, window=window, boundless=False)
            invalid = np.isin(near, band.nodata) if band.nodata else np.zeros(near.shape, bool)
        if dn.shape != (h, w):
            raise RasterError(f"{what}: band file {band.href!r} gave a {dn.shape} block for a {h}x{w} window.")
    invalid |= ~np.isfinite(dn)
    if band.nodata:
        invalid |= np.isin(dn, band.nodata)
    dn[invalid] = np.nan
    return dn


def read_toa(product: Product, window: Window | None = None) -> np.ndarray:
    """Top-of-atmosphere reflectance of a window of the product's 10 m grid.

    Args:
        product: a product from one of the readers.
        window: a window of ``product.grid`` (default: the whole grid, only sensible for small
            products).

    Returns:
        (6, h, w) float32 TOA reflectance, ``schema.OPTICAL_FEATURES`` order, NaN at nodata.

    Raises:
        RasterError: a band file is missing, unreadable or not georeferenced.
    """
    window = _full_window(product.grid) if window is None else window
    window = Window(int(window.col_off), int(window.row_off), int(window.width), int(window.height))
    what = f"product {product.source!r}"
    out = np.empty((len(product.bands), int(window.height), int(window.width)), np.float32)
    divisor = math.sin(math.radians(product.sun_elevation)) if product.sun_correction else 1.0
    for i, band in enumerate(product.bands):
        dn = read_band_dn(band, product.grid, window, what=what)
        out[i] = (dn * np.float32(band.gain) + np.float32(band.offset)) / np.float32(divisor)
    return out


def window_grid(grid: RasterGrid, window: Window) -> RasterGrid:
    """The sub-grid of ``grid`` covered by ``window``."""
    return RasterGrid(crs=grid.crs, transform=rasterio.windows.transform(window, grid.transform),
                      width=int(window.width), height=int(window.height))


def require_bands(found: dict[str, BandSource], *, where: str, looked_for: Sequence[str]) -> tuple[BandSource, ...]:
    """The six bands in order, or a one-line error naming the product and the missing bands."""
    missing = [f"{name} ({hint})" for name, hint in zip(schema.OPTICAL_FEATURES, looked_for, strict=True) if name not in found]
    if missing:
        raise RasterError(f"{where} lacks band(s) {', '.join(missing)}; the mapper needs blue, green, red, nir, swir1 and swir2.")
    return tuple(found[name] for name in schema.OPTICAL_FEATURES)
