"""The feature bands a model needs, on the scene grid: supplied rasters first, the rest derived.

Derivation goes through :func:`facies_bench.features.terrain.compute_feature_stack`, the function
the synthetic simulator uses, so a mapped scene's features are computed exactly like the
training scenes': slope and hillshade from the DEM, the cast-shadow mask traced over the DEM
along the sun's azimuth and elevation, elevation and proximity to the outline normalised per
glacier (one glacier per outline feature).
"""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np

from facies_bench import schema
from facies_bench.errors import RasterError
from facies_bench.features.terrain import compute_feature_stack

log = logging.getLogger(__name__)

#: Features derived from the DEM (elevation is the DEM itself, normalised per glacier).
DEM_FEATURES = ("elevation", "slope", "shadow_mask", "hillshade")
#: Features that also need the sun's position.
SUN_FEATURES = ("shadow_mask", "hillshade")


def required_features(models: Sequence[object]) -> tuple[str, ...]:
    """Union of the models' features, in ``schema.FEATURE_NAMES`` order."""
    wanted = {f for m in models for f in m.features}
    return tuple(f for f in schema.FEATURE_NAMES if f in wanted)


def build_feature_bands(optical: np.ndarray, glacier_ids: np.ndarray, *, needed: Sequence[str], pixel_size: float,
                        dem: np.ndarray | None = None, supplied: Mapping[str, np.ndarray] | None = None,
                        sun_azimuth: float | None = None, sun_elevation: float | None = None,
                        scene_path: str = "the scene") -> dict[str, np.ndarray]:
    """The ``needed`` feature bands of a scene.

    Args:
        optical: (6, H, W) TOA reflectance, NaN at nodata.
        glacier_ids: (H, W) int, 0 outside glaciers, one positive id per glacier.
        needed: feature names the models use.
        pixel_size: pixel side in metres.
        dem: (H, W) elevations in metres (NaN at nodata), needed for any DEM feature not supplied.
        supplied: ``{feature name: (H, W)}`` rasters the user gave; they take precedence.
        sun_azimuth: degrees clockwise from north (for shadow mask and hillshade).
        sun_elevation: degrees above the horizon.
        scene_path: the optical scene's path, for messages.

    Returns:
        ``{name: (H, W) float32}`` for every name in ``needed``.

    Raises:
        RasterError: a DEM feature is needed but neither supplied nor derivable (no DEM), or the
            shadow mask / hillshade is needed without the sun's position.
    """
    supplied = {schema.FEATURE_NAMES[schema.feature_index(k)]: v for k, v in (supplied or {}).items()}
    bands: dict[str, np.ndarray] = {}
    for i, name in enumerate(schema.OPTICAL_FEATURES):
        if name in needed:
            bands[name] = np.asarray(optical[i], dtype=np.float32)
    for name in needed:
        if name in supplied and name not in bands:
            bands[name] = np.asarray(supplied[name], dtype=np.float32)
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
    if not need_sun:  # the stack computes them anyway; a sun at the zenith makes that trivial
        sun_azimuth, sun_elevation = 180.0, 90.0
    log.info("Deriving %s on the scene grid", ", ".join(missing))
    terrain = dem if dem is not None else np.zeros(glacier_ids.shape, np.float32)
    outline = np.asarray(glacier_ids) != 0
    stack = compute_feature_stack(np.nan_to_num(np.asarray(optical, dtype=np.float32)), terrain, outline,
                                  pixel_size=pixel_size, sun_azimuth=float(sun_azimuth),
                                  sun_elevation=float(sun_elevation), glacier_ids=glacier_ids)
    dem_nodata = None if dem is None else ~np.isfinite(dem)
    for name in missing:
        band = stack[schema.feature_index(name)].copy()
        if name in DEM_FEATURES and dem_nodata is not None and dem_nodata.any():
            band[dem_nodata] = np.nan  # e.g. the shadow tracer would silently say "lit"
        bands[name] = band
    return bands
