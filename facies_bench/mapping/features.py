"""The feature bands a model needs, on the scene grid: supplied rasters first, the rest derived.

Derivation uses the functions of :mod:`facies_bench.features.terrain` that the synthetic
simulator's :func:`~facies_bench.features.terrain.compute_feature_stack` uses, applied block by
block so memory stays bounded on large scenes, and gives the same values (checked against
``compute_feature_stack`` in the tests):

* slope and the hillshade feature (``cos(slope)``, 3 x 3 Horn differences): blocks of rows
  with a one-row halo;
* cast shadow: blocks of rows with a halo as long as the longest sun ray that can cast a shadow
  (scene relief over the ray's rise per pixel), towards the sun;
* elevation normalised per glacier: per-glacier DEM minimum and maximum gathered block by
  block; a pixel outside the outlines is normalised like its nearest glacier (searched within
  :data:`NEAREST_HALO` px, farther pixels never enter a glacier pixel's patch);
* proximity (distance over the glacier's largest distance): each glacier's distance transform
  on its bounding box;
* the shadow mask in the authors' polarity, 1 = lit, 0 = cast shadow.

With a ``workdir`` the bands are :class:`~facies_bench.mapping.io.DiskBand` files there,
otherwise in-memory arrays.  Working memory is a few blocks of rows plus the largest glacier's
bounding box (distance transform, 16 B/px).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from facies_bench import schema
from facies_bench.errors import RasterError
from facies_bench.features import terrain
from facies_bench.mapping.io import Band, DiskBand, Stack, block_rows

log = logging.getLogger(__name__)

#: Features derived from the DEM (elevation is the DEM itself, normalised per glacier).
DEM_FEATURES = ("elevation", "slope", "shadow_mask", "hillshade")
#: Features that also need the sun's position.
SUN_FEATURES = ("shadow_mask",)
#: How far (px) the nearest glacier of an outside pixel is searched for (patches reach 28 px).
NEAREST_HALO = 64


def required_features(models: Sequence[Any]) -> tuple[str, ...]:
    """Union of the models' features, in ``schema.FEATURE_NAMES`` order."""
    wanted = {f for m in models for f in m.features}
    return tuple(f for f in schema.FEATURE_NAMES if f in wanted)


def build_feature_bands(optical: Stack, glacier_ids: np.ndarray, *, needed: Sequence[str], pixel_size: float,
                        dem: Band | None = None, supplied: Mapping[str, Band] | None = None,
                        sun_azimuth: float | None = None, sun_elevation: float | None = None,
                        scene_path: str = "the scene", workdir: str | None = None,
                        rows_per_block: int | None = None) -> dict[str, Band]:
    """The ``needed`` feature bands of a scene.

    Args:
        optical: (6, H, W) TOA reflectance, NaN at nodata.
        glacier_ids: (H, W) int, 0 outside glaciers, one positive id per glacier.
        needed: feature names the models use.
        pixel_size: pixel side in metres.
        dem: (H, W) elevations in metres (NaN at nodata), needed for any DEM feature not supplied.
        supplied: ``{feature name: (H, W)}`` rasters the user gave; they take precedence.
        sun_azimuth: degrees clockwise from north (for the shadow mask).
        sun_elevation: degrees above the horizon.
        scene_path: the optical scene's path, for messages.
        workdir: write derived bands as :class:`~facies_bench.mapping.io.DiskBand` files here.
        rows_per_block: rows per block (default from :func:`~facies_bench.mapping.io.block_rows`).

    Returns:
        ``{name: (H, W) float32}`` for every name in ``needed`` (optical and supplied bands as
        given, derived ones as arrays or disk bands).

    Raises:
        RasterError: a DEM feature is needed but neither supplied nor derivable (no DEM), or the
            shadow mask is needed without the sun's position.
    """
    supplied = {schema.FEATURE_NAMES[schema.feature_index(k)]: v for k, v in (supplied or {}).items()}
    bands: dict[str, Band] = {}
    for i, name in enumerate(schema.OPTICAL_FEATURES):
        if name in needed:
            bands[name] = optical[i]
    for name in needed:
        if name in supplied and name not in bands:
            bands[name] = supplied[name]
    missing = [f for f in needed if f not in bands]
    if not missing:
        return bands
    need_dem = [f for f in missing if f in DEM_FEATURES]
    if need_dem and dem is None:
        msg = (f"The model uses {', '.join(need_dem)}, derived from a DEM, but no DEM was given for {scene_path!r}. "
               f"Pass --dem DEM.tif (on the scene grid, or with --resample), supply the feature rasters, or use a "
               f"model trained on optical features only (feature set 1).")
        raise RasterError(msg)
    need_sun = [f for f in missing if f in SUN_FEATURES]
    if need_sun and (sun_azimuth is None or sun_elevation is None):
        msg = (f"The model uses {', '.join(need_sun)}, which need the sun's azimuth and elevation, and {scene_path!r} has "
               "no SUN_AZIMUTH / SUN_ELEVATION metadata. Pass --sun-azimuth and --sun-elevation (degrees).")
        raise RasterError(msg)
    if not need_sun or sun_azimuth is None or sun_elevation is None:  # None only without a shadow mask (checked above)
        sun_azimuth, sun_elevation = 180.0, 90.0  # the stack computes them anyway; a sun at the zenith makes that trivial
    log.info("Deriving %s on the scene grid", ", ".join(missing))
    ids = np.asarray(glacier_ids)
    height, width = ids.shape
    step = int(rows_per_block or block_rows(width))
    out: dict[str, Band] = {}
    for name in missing:
        if workdir is not None:
            out[name] = DiskBand(Path(workdir) / f"derived_{name}.f32", (height, width), create=True)
        else:
            out[name] = np.zeros((height, width), np.float32)
    if "proximity" in out:
        _derive_proximity(ids, out["proximity"], pixel_size=pixel_size)
    if dem is not None:  # None only when no DEM feature is missing (checked above)
        _derive_from_dem(dem, ids, out, pixel_size=pixel_size, sun_azimuth=sun_azimuth, sun_elevation=sun_elevation,
                         step=step)
    bands.update(out)
    return bands


def _derive_from_dem(dem: Band, ids: np.ndarray, out: dict[str, Band], *, pixel_size: float, sun_azimuth: float,
                     sun_elevation: float, step: int) -> None:
    """Fill the DEM features among ``out``'s bands (elevation, slope, hillshade, shadow mask), block by block."""
    height = ids.shape[0]
    if "elevation" in out:
        _derive_elevation(dem, ids, out["elevation"], step=step)
    for name, fn in (("slope", _slope_block), ("hillshade", _hillshade_block)):
        if name in out:
            for r0 in range(0, height, step):
                r1 = min(r0 + step, height)
                a, b = max(r0 - 1, 0), min(r1 + 1, height)
                block = fn(np.asarray(dem[a:b], dtype=np.float64), pixel_size, sun_azimuth, sun_elevation)
                out[name][r0:r1] = _with_nodata(block[r0 - a:r0 - a + (r1 - r0)], dem[r0:r1])
    if "shadow_mask" in out:
        _derive_shadow(dem, out["shadow_mask"], pixel_size=pixel_size, sun_azimuth=float(sun_azimuth),
                       sun_elevation=float(sun_elevation), step=step)


def _with_nodata(block: np.ndarray, dem_rows: np.ndarray) -> np.ndarray:
    """NaN where the DEM is nodata (the shadow tracer, say, would silently call it lit)."""
    block = np.asarray(block, dtype=np.float32)
    bad = ~np.isfinite(np.asarray(dem_rows))
    if bad.any():
        block = block.copy()
        block[bad] = np.nan
    return block


def _slope_block(dem: np.ndarray, pixel_size: float, azimuth: float | None, elevation: float | None) -> np.ndarray:
    return terrain.slope_degrees(dem, pixel_size)


def _hillshade_block(dem: np.ndarray, pixel_size: float, azimuth: float | None, elevation: float | None) -> np.ndarray:
    return terrain.hillshade_feature(dem, pixel_size)


def _glacier_labels(ids: np.ndarray) -> np.ndarray:
    present = np.zeros(int(ids.max(initial=0)) + 1, bool)
    present[np.unique(ids)] = True
    present[0] = False
    return np.flatnonzero(present)


def _derive_proximity(ids: np.ndarray, out: np.ndarray | DiskBand, *, pixel_size: float) -> None:
    """Distance to the outline over the glacier's largest distance, each glacier on its bounding box (+1 px).

    The box grown by one pixel (clipped to the scene) holds the nearest non-glacier pixel of every
    pixel inside it, so the distances equal those of the whole-scene transform.
    """
    height, width = ids.shape
    for gid, box in enumerate(ndimage.find_objects(ids), start=1):
        if box is None:
            continue
        rs = slice(max(box[0].start - 1, 0), min(box[0].stop + 1, height))
        cs = slice(max(box[1].start - 1, 0), min(box[1].stop + 1, width))
        mask = ids[rs, cs] == gid
        prox = terrain.proximity_feature(mask, pixel_size)
        current = np.asarray(out[rs, cs])
        out[rs, cs] = np.where(mask, prox, current)


def _derive_elevation(dem: Any, ids: np.ndarray, out: np.ndarray | DiskBand, *, step: int) -> None:
    """Elevation min-max normalised per glacier; outside pixels like their nearest glacier."""
    height, width = ids.shape
    labels = _glacier_labels(ids)
    n = int(ids.max(initial=0)) + 1
    lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
    for r0 in range(0, height, step):
        z = np.asarray(dem[r0:r0 + step], dtype=np.float64).ravel()
        g = ids[r0:r0 + step].ravel()
        inside = g > 0
        np.fmin.at(lo, g[inside], z[inside])
        np.fmax.at(hi, g[inside], z[inside])
    if labels.size == 0:  # no glacier: the whole scene is normalised as one
        lo[:], hi[:] = _nan_range(dem, height, step)
    span = hi - lo
    for r0 in range(0, height, step):
        r1 = min(r0 + step, height)
        z = np.asarray(dem[r0:r1], dtype=np.float64)
        if labels.size <= 1:
            nearest = np.full(z.shape, labels[0] if labels.size else 0)
        else:
            a, b = max(r0 - NEAREST_HALO, 0), min(r1 + NEAREST_HALO, height)
            window = ids[a:b]
            if window.any():
                _, (nr, nc) = ndimage.distance_transform_edt(window == 0, return_indices=True)
                nearest = window[nr, nc][r0 - a:r0 - a + (r1 - r0)]
            else:  # no glacier within reach: these pixels never enter a glacier pixel's patch
                nearest = np.full(z.shape, labels[0])
        s = span[nearest]
        norm = np.where(s > 0, (z - lo[nearest]) / np.where(s > 0, s, 1.0), 0.0)
        out[r0:r1] = norm.astype(np.float32)


def _nan_range(dem: Any, height: int, step: int) -> tuple[float, float]:
    lo, hi = np.inf, -np.inf
    for r0 in range(0, height, step):
        z = np.asarray(dem[r0:r0 + step], dtype=np.float64)
        if np.isfinite(z).any():
            lo, hi = min(lo, float(np.nanmin(z))), max(hi, float(np.nanmax(z)))
    return lo, hi


def _derive_shadow(dem: Any, out: np.ndarray | DiskBand, *, pixel_size: float, sun_azimuth: float,
                   sun_elevation: float, step: int) -> None:
    """The in-sun mask (1 = lit, 0 = cast shadow) block by block, each block with the rows its sun rays can reach."""
    height, width = dem.shape
    if sun_elevation <= 0:
        for r0 in range(0, height, step):
            out[r0:r0 + step] = _with_nodata(np.zeros((min(step, height - r0), width), np.float32), dem[r0:r0 + step])
        return
    lo, hi = _nan_range(dem, height, step)
    relief = hi - lo if np.isfinite(hi - lo) else 0.0
    az = np.radians(sun_azimuth)
    step_e, step_n = np.sin(az), np.cos(az)
    scale = 1.0 / max(abs(step_e), abs(step_n))
    rise = scale * pixel_size * np.tan(np.radians(sun_elevation))
    n_steps = int(min(np.ceil(relief / rise), max(height, width))) if relief > 0 else 0
    reach = int(np.ceil(n_steps * abs(step_n * scale))) + 1  # rows a ray can travel
    towards_north = step_n * scale > 0  # the rays go to smaller rows
    rows = max(step, reach)  # a block at least as tall as its halo keeps the overhead below 2x
    for r0 in range(0, height, rows):
        r1 = min(r0 + rows, height)
        a, b = (max(r0 - reach, 0), r1) if towards_north else (r0, min(r1 + reach, height))
        block = terrain.in_sun_mask(np.asarray(dem[a:b], dtype=np.float64), pixel_size, sun_azimuth=sun_azimuth,
                                    sun_elevation=sun_elevation)
        out[r0:r1] = _with_nodata(block[r0 - a:r0 - a + (r1 - r0)], dem[r0:r1])
