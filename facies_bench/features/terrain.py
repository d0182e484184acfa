"""Terrain and geometry features of the facies feature stack, shared by the simulator and the mapper.

Every function works on numpy arrays on a regular, north-up grid (row 0 is the northern edge,
column 0 the western edge) with square pixels of ``pixel_size`` metres, and is vectorised
(numpy and ``scipy.ndimage``; no per-pixel Python loops).

The paper (Maslov et al., Section 2) derives, from the Copernicus DEM and the scene metadata:
elevation normalised per glacier, slope, a cast-shadow mask (``python-dem-shadows``, de Ruijter
2016) and a hillshade for the scene's sun azimuth and zenith, and proximity (distance to the
glacier outline) normalised per glacier.  The methods here are the standard GIS ones:

* slope and aspect: Horn (1981) 3x3 finite differences, as in GDAL ``gdaldem`` and ArcGIS;
* hillshade: Lambertian ``cos(i) = cos(z) cos(s) + sin(z) sin(s) cos(A - aspect)`` clipped to
  [0, 1] (GDAL ``gdaldem hillshade`` without the 255 scaling), ignoring cast shadows;
* cast shadows: march from every pixel towards the sun and flag it shadowed when the terrain
  rises above the sun ray, as python-dem-shadows does; here whole arrays are shifted one step
  at a time so the loop runs over distance, not pixels;
* proximity: Euclidean distance transform of the glacier mask (``scipy.ndimage``);

Two conventions follow the authors' code rather than what the names suggest (issue 14; the
published models' first-layer statistics agree, see ``docs/published_models.md``):

* the shadow-mask feature is the *in-sun* array of ``python-dem-shadows``' ``project_shadows``:
  1 = lit, 0 = in a cast shadow (:func:`in_sun_mask`); :func:`cast_shadow_mask` stays the
  physical "is this pixel shadowed" function the simulator uses for illumination;
* proximity is the distance to the outline divided by the glacier's largest distance, as the
  authors' ``apply.py`` does (:func:`proximity_feature`), not a per-glacier min-max;
* the hillshade feature is the terrain lit from the zenith, ``cos(slope)``
  (:func:`hillshade_feature`): the published models' first layers put the real data's hillshade
  at a normalised mean of 0.93-0.96, standard deviation 0.09 and correlation -0.93 to -1.0 with
  slope, which is what ``cos(slope)`` gives on glacier terrain (0.96, 0.09, -0.96) and what the
  scene's own sun cannot give (0.50, 0.21, -0.10): see ``docs/published_models.md``.
  :func:`hillshade` stays the physical incidence the simulator lights its scenes with.
* solar position: NOAA's general solar position equations with Spencer's (1971) Fourier
  series for the equation of time and declination (accurate to a fraction of a degree).
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
from scipy import ndimage

from facies_bench import schema

__all__ = [
    "aspect_degrees", "cast_shadow_mask", "compute_feature_stack", "hillshade", "hillshade_feature", "in_sun_mask", "normalise_per_glacier",
    "proximity_feature", "proximity_to_outline", "slope_degrees", "solar_position",
]


def _check_dem(dem: np.ndarray, pixel_size: float) -> np.ndarray:
    dem = np.asarray(dem, dtype=np.float64)
    if dem.ndim != 2:
        msg = f"dem must be a 2-D (H, W) array; got shape {dem.shape}."
        raise ValueError(msg)
    if not pixel_size > 0:
        msg = f"pixel_size must be a positive number of metres; got {pixel_size!r}."
        raise ValueError(msg)
    return dem


def _horn_gradients(dem: np.ndarray, pixel_size: float) -> tuple[np.ndarray, np.ndarray]:
    """(dz/d_east, dz/d_north) by Horn's 3x3 weighted differences, edges replicated."""
    z = np.pad(dem, 1, mode="edge")
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dz_east = ((c + 2 * f + i) - (a + 2 * d + g)) / (8.0 * pixel_size)
    dz_north = ((a + 2 * b + c) - (g + 2 * h + i)) / (8.0 * pixel_size)  # row 0 is north
    return dz_east, dz_north


def slope_degrees(dem: np.ndarray, pixel_size: float) -> np.ndarray:
    """Terrain slope by Horn's method.

    Args:
        dem: (H, W) elevations in metres, north up.
        pixel_size: pixel side in metres.

    Returns:
        (H, W) float32 slope in degrees, 0 (flat) to 90.
    """
    dem = _check_dem(dem, pixel_size)
    dx, dy = _horn_gradients(dem, pixel_size)
    return np.degrees(np.arctan(np.hypot(dx, dy))).astype(np.float32)


def aspect_degrees(dem: np.ndarray, pixel_size: float) -> np.ndarray:
    """Direction the slope faces (downhill), degrees clockwise from north, by Horn's method.

    Args:
        dem: (H, W) elevations in metres, north up.
        pixel_size: pixel side in metres.

    Returns:
        (H, W) float32 aspect in [0, 360); flat pixels get -1 (the ArcGIS convention).
    """
    dem = _check_dem(dem, pixel_size)
    dx, dy = _horn_gradients(dem, pixel_size)
    aspect = np.mod(np.degrees(np.arctan2(-dx, -dy)), 360.0)
    aspect[(dx == 0) & (dy == 0)] = -1.0
    return aspect.astype(np.float32)


def hillshade(dem: np.ndarray, pixel_size: float, *, sun_azimuth: float, sun_elevation: float) -> np.ndarray:
    """How brightly each pixel is lit by the sun, ignoring cast shadows.

    Args:
        dem: (H, W) elevations in metres, north up.
        pixel_size: pixel side in metres.
        sun_azimuth: degrees clockwise from north.
        sun_elevation: degrees above the horizon.

    Returns:
        (H, W) float32 cosine of the solar incidence angle, clipped to [0, 1]; a flat pixel
        gets ``sin(sun_elevation)``.
    """
    dem = _check_dem(dem, pixel_size)
    dx, dy = _horn_gradients(dem, pixel_size)
    slope = np.arctan(np.hypot(dx, dy))
    aspect = np.arctan2(-dx, -dy)
    zenith = np.radians(90.0 - float(sun_elevation))
    azimuth = np.radians(float(sun_azimuth))
    cos_i = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(azimuth - aspect)
    return np.clip(cos_i, 0.0, 1.0).astype(np.float32)


def hillshade_feature(dem: np.ndarray, pixel_size: float) -> np.ndarray:
    """The hillshade feature as the authors' data carry it: the terrain lit from the zenith.

    Returns:
        (H, W) float32 ``cos(slope)`` in (0, 1]; a flat pixel gets 1.  (The sun's position does
        not enter; see the module docstring for the evidence.)
    """
    return hillshade(dem, pixel_size, sun_azimuth=180.0, sun_elevation=90.0)


def cast_shadow_mask(dem: np.ndarray, pixel_size: float, *, sun_azimuth: float, sun_elevation: float) -> np.ndarray:
    """Pixels in the cast shadow of surrounding terrain.

    A pixel is shadowed when, walking from it towards the sun one pixel at a time, the terrain
    rises above the straight sun ray that starts at the pixel.  Terrain beyond the grid edge is
    unknown and casts no shadow.  Self-shadowed slopes (facing away from the sun) are what
    :func:`hillshade` reports as 0; they are included here only when a higher pixel blocks them.

    Args:
        dem: (H, W) elevations in metres, north up.
        pixel_size: pixel side in metres.
        sun_azimuth: degrees clockwise from north.
        sun_elevation: degrees above the horizon; at or below 0 every pixel is shadowed.

    Returns:
        (H, W) bool, True = shadowed.
    """
    dem = _check_dem(dem, pixel_size)
    h, w = dem.shape
    if sun_elevation <= 0:
        return np.ones((h, w), dtype=bool)
    az = np.radians(float(sun_azimuth))
    step_e, step_n = np.sin(az), np.cos(az)  # unit step towards the sun, in pixels (east, north)
    scale = 1.0 / max(abs(step_e), abs(step_n))  # one pixel along the dominant axis per step
    step_e, step_n = step_e * scale, step_n * scale
    rise_per_step = scale * pixel_size * np.tan(np.radians(float(sun_elevation)))
    relief = float(np.nanmax(dem) - np.nanmin(dem))
    n_steps = int(min(np.ceil(relief / rise_per_step), max(h, w)))
    shadow = np.zeros((h, w), dtype=bool)
    for k in range(1, n_steps + 1):
        dr = int(round(-k * step_n))  # towards north = decreasing row
        dc = int(round(k * step_e))
        if abs(dr) >= h or abs(dc) >= w:
            break
        # pixels (r, c) whose sample (r + dr, c + dc) lies inside the grid
        r0, r1 = max(0, -dr), min(h, h - dr)
        c0, c1 = max(0, -dc), min(w, w - dc)
        here = dem[r0:r1, c0:c1]
        there = dem[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
        shadow[r0:r1, c0:c1] |= there > here + k * rise_per_step
    return shadow


def in_sun_mask(dem: np.ndarray, pixel_size: float, *, sun_azimuth: float, sun_elevation: float) -> np.ndarray:
    """The shadow-mask feature: 1 where the sun reaches the pixel, 0 in a cast shadow.

    This is the polarity of ``python-dem-shadows``' ``project_shadows``, which the authors fed
    to their models unchanged ("Shadow mask (0/1)" in their ``apply.py``).

    Returns:
        (H, W) float32, ``1 - cast_shadow_mask(...)``.
    """
    shadowed = cast_shadow_mask(dem, pixel_size, sun_azimuth=sun_azimuth, sun_elevation=sun_elevation)
    return (~shadowed).astype(np.float32)


def proximity_feature(glacier_mask: np.ndarray, pixel_size: float) -> np.ndarray:
    """The proximity feature of one glacier: distance to its outline over the largest such distance.

    Args:
        glacier_mask: (H, W) bool, True inside the glacier.
        pixel_size: pixel side in metres.

    Returns:
        (H, W) float32 in (0, 1] inside the glacier (its most interior pixel gets 1, a margin
        pixel ``pixel_size / max``), 0 outside; all zeros for an empty mask.
    """
    distance = proximity_to_outline(glacier_mask, pixel_size)
    top = float(distance.max(initial=0.0))
    return (distance / top).astype(np.float32) if top > 0 else distance


def proximity_to_outline(outline_mask: np.ndarray, pixel_size: float) -> np.ndarray:
    """Distance from each glacier pixel to the glacier outline.

    Args:
        outline_mask: (H, W) bool, True inside the glacier.
        pixel_size: pixel side in metres.

    Returns:
        (H, W) float32 Euclidean distance in metres from each glacier pixel centre to the centre
        of the nearest non-glacier pixel (a glacier pixel on the margin gets one pixel size);
        0 outside the glacier.  The grid edge is not a boundary, except when the mask covers
        the whole grid (then distances are to the grid edge).
    """
    mask = np.asarray(outline_mask, dtype=bool)
    if mask.ndim != 2:
        msg = f"outline_mask must be a 2-D (H, W) array; got shape {mask.shape}."
        raise ValueError(msg)
    if not mask.any():
        return np.zeros(mask.shape, np.float32)
    if mask.all():
        padded = np.pad(mask, 1, constant_values=False)
        return (ndimage.distance_transform_edt(padded)[1:-1, 1:-1] * pixel_size).astype(np.float32)
    return (ndimage.distance_transform_edt(mask) * pixel_size).astype(np.float32)


def normalise_per_glacier(values: np.ndarray, glacier_mask: np.ndarray) -> np.ndarray:
    """Min-max normalise ``values`` over one glacier, as the paper does for elevation and proximity.

    Args:
        values: (H, W) values (e.g. elevation in metres).
        glacier_mask: (H, W) bool, True inside the glacier.

    Returns:
        (H, W) float32 ``(values - min) / (max - min)`` with min and max taken inside the mask,
        so the glacier spans [0, 1]; outside pixels follow the same linear map (and may fall
        outside [0, 1]).  A constant glacier maps to 0.
    """
    values = np.asarray(values, dtype=np.float64)
    mask = np.asarray(glacier_mask, dtype=bool)
    if values.shape != mask.shape:
        msg = f"values {values.shape} and glacier_mask {mask.shape} must have the same shape."
        raise ValueError(msg)
    if not mask.any():
        msg = "glacier_mask is empty; there is no glacier to normalise over."
        raise ValueError(msg)
    inside = values[mask]
    lo, hi = float(np.nanmin(inside)), float(np.nanmax(inside))
    span = hi - lo
    out = (values - lo) / span if span > 0 else np.zeros_like(values)
    return out.astype(np.float32)


def solar_position(lat: float, lon: float, datetime_utc: _dt.datetime) -> tuple[float, float]:
    """Solar azimuth and elevation (NOAA general solar position, Spencer series).

    Args:
        lat: latitude, degrees north.
        lon: longitude, degrees east.
        datetime_utc: a UTC time (naive values are taken as UTC).

    Returns:
        (azimuth, elevation) in degrees; azimuth clockwise from north, elevation above the
        horizon (no refraction correction).
    """
    if datetime_utc.tzinfo is not None:
        datetime_utc = datetime_utc.astimezone(_dt.UTC).replace(tzinfo=None)
    doy = datetime_utc.timetuple().tm_yday
    hour = datetime_utc.hour + datetime_utc.minute / 60 + datetime_utc.second / 3600
    gamma = 2 * np.pi / 365 * (doy - 1 + (hour - 12) / 24)
    eqtime = 229.18 * (0.000075 + 0.001868 * np.cos(gamma) - 0.032077 * np.sin(gamma)
                       - 0.014615 * np.cos(2 * gamma) - 0.040849 * np.sin(2 * gamma))
    decl = (0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma) - 0.006758 * np.cos(2 * gamma)
            + 0.000907 * np.sin(2 * gamma) - 0.002697 * np.cos(3 * gamma) + 0.00148 * np.sin(3 * gamma))
    true_solar_min = hour * 60 + eqtime + 4 * lon
    hour_angle = np.radians(true_solar_min / 4 - 180)
    phi = np.radians(lat)
    cos_zen = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    zen = np.arccos(np.clip(cos_zen, -1, 1))
    elevation = 90 - np.degrees(zen)
    # azimuth clockwise from north
    azimuth = np.degrees(np.arctan2(np.sin(hour_angle),
                                    np.cos(hour_angle) * np.sin(phi) - np.tan(decl) * np.cos(phi))) + 180
    return float(np.mod(azimuth, 360.0)), float(elevation)


def compute_feature_stack(optical: np.ndarray, dem: np.ndarray, outline: np.ndarray, *, pixel_size: float,
                          sun_azimuth: float, sun_elevation: float,
                          glacier_ids: np.ndarray | None = None) -> np.ndarray:
    """The paper's 11-feature stack, in ``schema.FEATURE_NAMES`` order.

    Args:
        optical: (6, H, W) top-of-atmosphere reflectance (blue, green, red, nir, swir1, swir2).
        dem: (H, W) elevations in metres.
        outline: (H, W) bool glacier mask.
        pixel_size: pixel side in metres.
        sun_azimuth: degrees clockwise from north.
        sun_elevation: degrees above the horizon.
        glacier_ids: optional (H, W) int array, 0 outside glaciers and one positive id per
            glacier; elevation and proximity are then normalised per id.  Without it the whole
            outline is one glacier.

    Returns:
        (11, H, W) float32: the six bands, elevation normalised per glacier, slope (degrees),
        in-sun mask (1 = lit, 0 = cast shadow), hillshade feature (``cos(slope)``), proximity (distance over the
        glacier's largest distance, 0 outside).
    """
    optical = np.asarray(optical, dtype=np.float32)
    dem = _check_dem(dem, pixel_size)
    outline = np.asarray(outline, dtype=bool)
    if optical.ndim != 3 or optical.shape[0] != len(schema.OPTICAL_FEATURES) or optical.shape[1:] != dem.shape:
        msg = (f"optical must be (6, H, W) matching dem {dem.shape} (bands {', '.join(schema.OPTICAL_FEATURES)}); "
               f"got {optical.shape}.")
        raise ValueError(msg)
    if outline.shape != dem.shape:
        msg = f"outline {outline.shape} must match dem {dem.shape}."
        raise ValueError(msg)
    if glacier_ids is None:
        ids = outline.astype(np.int32)
    else:
        ids = np.where(outline, np.asarray(glacier_ids), 0).astype(np.int64)
        if ids.shape != dem.shape:
            msg = f"glacier_ids {ids.shape} must match dem {dem.shape}."
            raise ValueError(msg)
    elevation = np.zeros(dem.shape, np.float32)
    proximity = np.zeros(dem.shape, np.float32)
    labels = [int(v) for v in np.unique(ids) if v > 0]
    if len(labels) == 1:
        mask = ids == labels[0]
        elevation = normalise_per_glacier(dem, mask)
        proximity = proximity_feature(mask, pixel_size)
    elif labels:
        # nearest glacier decides how an outside pixel's elevation is normalised
        _, (near_r, near_c) = ndimage.distance_transform_edt(ids == 0, return_indices=True)
        nearest = ids[near_r, near_c]
        for gid in labels:
            mask = ids == gid
            elevation = np.where(nearest == gid, normalise_per_glacier(dem, mask), elevation)
            proximity = np.where(mask, proximity_feature(mask, pixel_size), proximity)
    else:
        lo, hi = float(np.nanmin(dem)), float(np.nanmax(dem))
        elevation = ((dem - lo) / (hi - lo if hi > lo else 1.0)).astype(np.float32)
    slope = slope_degrees(dem, pixel_size)
    lit = in_sun_mask(dem, pixel_size, sun_azimuth=sun_azimuth, sun_elevation=sun_elevation)
    shade = hillshade_feature(dem, pixel_size)
    stack = np.concatenate([optical, np.stack([elevation, slope, lit, shade, proximity])])
    return stack.astype(np.float32, copy=False)
