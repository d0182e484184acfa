"""Glacier features of a facies map: predictors of glacier-wide surface mass balance (paper, Eq. 2 and Eq. 3).

For one glacier ``i`` and year ``t`` (one facies map on the grid of its DEM and outline):

* **snow-covered area ratio** ``A_snow(t,i) / A(i)``: area of glacier pixels of class *snow*
  divided by the glacier area ``A(i)``; nodata glacier pixels (Landsat 7 SLC-off gaps) are left
  out by scaling the snow area with the observed share of the glacier.  Only the class *snow*
  counts (the paper's definition; *firn* is multi-year material and is not the current year's
  accumulation area).  Pass
  ``snow_classes=("snow", "firn")`` to change that.  Pixels hidden by cloud or shadow are not
  corrected for (as in the paper); their share is reported as ``unobserved_fraction``.
* **normalised transient snowline** ``(h_snowline(t,i) - mean h(i)) / (h_max(i) - h_min(i))``
  where ``h_snowline`` is the 5th percentile of the elevations of the snow pixels.  Undefined
  (NaN, reported) when a map has no snow pixel on the glacier.
* **glacier-wide shortwave broadband albedo**: the mean, over glacier pixels that are not
  *cloud*, *shadow* or nodata (class ``NODATA`` or NaN reflectance, e.g. SLC-off gaps), of
  Liang's (2001) narrow-to-broadband conversion applied to the six optical bands.

The glacier area ``A(i)`` and the hypsometry (mean, min, max elevation) are taken once per
glacier from its earliest scene (:func:`compute_hypsometry`) and kept fixed for every later
year, so only the snow-dependent numerators vary with time (paper, Section 3).

Narrow-to-broadband coefficients (``LIANG_COEFFICIENTS``), applied to the reflectance of the
bands named in ``schema.SENSORS[...].band_ids`` (our band order: blue, green, red, nir, swir1,
swir2; the green band has weight 0 in all three):

* Landsat 5 TM, Landsat 7 ETM+: ``0.356 B1 + 0.130 B3 + 0.373 B4 + 0.085 B5 + 0.072 B7 - 0.0018``
  (Liang 2001, TM/ETM+ shortwave albedo).
* Landsat 8 / 9 OLI: ``0.356 B2 + 0.130 B4 + 0.373 B5 + 0.085 B6 + 0.072 B7 - 0.0018``: Liang's
  TM coefficients on the spectrally matching OLI bands (common practice for OLI).
* Sentinel-2 MSI: ``0.356 B2 + 0.130 B4 + 0.373 B8 + 0.085 B11 + 0.072 B12 - 0.0018``: Liang's TM
  coefficients on the matching MSI bands, the adaptation applied to glaciers by Naegeli et al.
  (2017, Remote Sens. 9, 110, doi:10.3390/rs9020110).

Pure numpy on (H, W) grids, like :mod:`facies_bench.features.terrain`; the SMB analysis
(:mod:`facies_bench.smb`) and the per-glacier product tables (:mod:`facies_bench.mapping.products`)
both use them.

Liang, S. (2001), Narrowband to broadband conversions of land surface albedo I: Algorithms,
Remote Sens. Environ. 76, 213-238.  The conversion was derived for surface reflectance; on the
top-of-atmosphere reflectance stored in facies stores it gives a TOA broadband albedo proxy,
which is what the regression needs (a consistent predictor), not an absolute surface albedo.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from facies_bench import schema
from facies_bench.errors import RasterError, UnknownNameError

#: Class code of nodata pixels in facies maps (outside the outline, missing data).
NODATA = 255
#: Classes whose pixels are excluded from the glacier-wide albedo (besides nodata).
ALBEDO_EXCLUDED_CLASSES: tuple[str, ...] = ("cloud", "shadow")
#: Percentile of snow-pixel elevations taken as the transient snowline (paper: 5th).
SNOWLINE_PERCENTILE = 5.0

_TM = ((0.356, 0.0, 0.130, 0.373, 0.085, 0.072), -0.0018)
_TM_SOURCE = "Liang (2001) TM/ETM+ shortwave: 0.356 B1 + 0.130 B3 + 0.373 B4 + 0.085 B5 + 0.072 B7 - 0.0018"
_OLI_SOURCE = ("Liang (2001) TM coefficients on the matching OLI bands: "
               "0.356 B2 + 0.130 B4 + 0.373 B5 + 0.085 B6 + 0.072 B7 - 0.0018")
_MSI_SOURCE = ("Liang (2001) TM coefficients on the matching MSI bands (Naegeli et al. 2017): "
               "0.356 B2 + 0.130 B4 + 0.373 B8 + 0.085 B11 + 0.072 B12 - 0.0018")


@dataclass(frozen=True)
class AlbedoCoefficients:
    """Narrow-to-broadband weights for the six optical bands (blue, green, red, nir, swir1, swir2)."""

    weights: tuple[float, float, float, float, float, float]
    intercept: float
    source: str


#: Sensor name -> coefficients (see the module docstring).
LIANG_COEFFICIENTS: dict[str, AlbedoCoefficients] = {
    "Landsat 5": AlbedoCoefficients(*_TM, _TM_SOURCE),
    "Landsat 7": AlbedoCoefficients(*_TM, _TM_SOURCE),
    "Landsat 8": AlbedoCoefficients(*_TM, _OLI_SOURCE),
    "Landsat 9": AlbedoCoefficients(*_TM, _OLI_SOURCE),
    "Sentinel-2": AlbedoCoefficients(*_TM, _MSI_SOURCE),
}


def albedo_coefficients(sensor: str) -> AlbedoCoefficients:
    """Liang (2001) coefficients for a sensor given by name or alias (``'L8'``, ``'S2'``...)."""
    try:
        name = schema.SENSOR_NAMES[schema.sensor_index(sensor)]
    except UnknownNameError:
        msg = (f"No narrow-to-broadband albedo coefficients for sensor {sensor!r}. "
               f"Valid: {', '.join(LIANG_COEFFICIENTS)}.")
        raise UnknownNameError(msg) from None
    return LIANG_COEFFICIENTS[name]


def broadband_albedo(optical: np.ndarray, *, sensor: str) -> np.ndarray:
    """Shortwave broadband albedo of every pixel.

    Args:
        optical: (6, ...) reflectance in band order blue, green, red, nir, swir1, swir2.
        sensor: sensor name (``schema.SENSOR_NAMES``) selecting the coefficients.

    Returns:
        Albedo with the trailing shape of ``optical`` (float64).
    """
    optical = np.asarray(optical, dtype=np.float64)
    if optical.ndim < 1 or optical.shape[0] != len(schema.OPTICAL_FEATURES):
        msg = (f"optical has shape {optical.shape}; axis 0 must hold the {len(schema.OPTICAL_FEATURES)} bands "
               f"{', '.join(schema.OPTICAL_FEATURES)}.")
        raise RasterError(msg)
    coeffs = albedo_coefficients(sensor)
    weights = np.asarray(coeffs.weights).reshape((-1,) + (1,) * (optical.ndim - 1))
    return (weights * optical).sum(axis=0) + coeffs.intercept


def pixel_area(transform: Sequence[float]) -> float:
    """Area of one pixel (square map units) of an affine transform ``(a, b, c, d, e, f)``."""
    a, b, _, d, e, _ = (float(v) for v in tuple(transform)[:6])
    area = abs(a * e - b * d)
    if not area > 0:
        raise RasterError(f"Affine transform {tuple(transform)} has zero pixel area.")
    return area


def class_codes(names: Iterable[str]) -> tuple[int, ...]:
    """Class codes of class names or keys."""
    return tuple(schema.class_index(n) for n in names)


@dataclass(frozen=True)
class Hypsometry:
    """Glacier area and elevation statistics, fixed from the glacier's earliest scene."""

    glacier: str
    scene_id: str
    date: str
    area_m2: float
    mean_m: float
    min_m: float
    max_m: float

    def to_dict(self) -> dict:
        """JSON-ready dict of the fields."""
        return asdict(self)


def compute_hypsometry(dem: np.ndarray, outline: np.ndarray, *, pixel_area_m2: float, glacier: str = "",
                       scene_id: str = "", date: str = "") -> Hypsometry:
    """Area (m2) and mean / min / max elevation (m) of the glacier pixels of one scene.

    Args:
        dem: (H, W) elevation in metres.
        outline: (H, W) bool glacier mask.
        pixel_area_m2: area of one pixel.
        glacier: glacier name, recorded in the result.
        scene_id: id of the scene, recorded in the result.
        date: acquisition date, recorded in the result.

    Raises:
        RasterError: grids differ, the outline is empty, or the DEM has no finite value on it.
    """
    dem = np.asarray(dem, dtype=np.float64)
    outline = np.asarray(outline, dtype=bool)
    where = f"glacier {glacier!r} scene {scene_id!r}" if glacier or scene_id else "the given scene"
    if dem.shape != outline.shape:
        raise RasterError(f"DEM {dem.shape} and outline {outline.shape} of {where} are on different grids; they must match.")
    inside = outline & np.isfinite(dem)
    if not inside.any():
        raise RasterError(f"The outline of {where} holds no pixel with a finite DEM value; cannot fix the glacier's hypsometry.")
    values = dem[inside]
    return Hypsometry(glacier=glacier, scene_id=scene_id, date=date, area_m2=float(outline.sum() * pixel_area_m2),
                      mean_m=float(values.mean()), min_m=float(values.min()), max_m=float(values.max()))


def snow_cover_ratio(classes: np.ndarray, outline: np.ndarray, *, area_m2: float, pixel_area_m2: float,
                     snow_classes: Sequence[int] = (1,)) -> float:
    """A_snow / A: area of snow pixels on the glacier over the (fixed) glacier area.

    Glacier pixels without data (``NODATA``: Landsat 7 SLC-off gaps in a mapped scene) are not
    counted as snow-free: the snow area is scaled by glacier pixels / observed glacier pixels (the
    gaps are stripes that sample the glacier evenly).  NaN if no glacier pixel was observed.
    """
    classes = np.asarray(classes)
    inside = np.asarray(outline, dtype=bool)
    snow = np.isin(classes, snow_classes) & inside
    n_inside, n_observed = int(inside.sum()), int((inside & (classes != NODATA)).sum())
    if n_observed == 0:
        return float("nan") if n_inside else 0.0
    return float(snow.sum() * (n_inside / n_observed) * pixel_area_m2 / area_m2)


def transient_snowline(classes: np.ndarray, dem: np.ndarray, outline: np.ndarray, *,
                       snow_classes: Sequence[int] = (1,), percentile: float = SNOWLINE_PERCENTILE) -> float:
    """Transient snowline altitude (m): a percentile of the snow-pixel elevations; NaN without snow."""
    snow = np.isin(classes, snow_classes) & outline & np.isfinite(dem)
    if not snow.any():
        return float("nan")
    return float(np.percentile(np.asarray(dem, dtype=np.float64)[snow], percentile))


def normalise_snowline(snowline_m: float, hypsometry: Hypsometry) -> float:
    """(h_snowline - mean h) / (h_max - h_min) with the glacier's fixed hypsometry."""
    span = hypsometry.max_m - hypsometry.min_m
    if not span > 0:
        msg = (f"Glacier {hypsometry.glacier!r}: elevation range of scene {hypsometry.scene_id!r} is {span} m; "
               "the snowline cannot be normalised by a zero range.")
        raise RasterError(msg)
    return float((snowline_m - hypsometry.mean_m) / span)


def glacier_albedo(optical: np.ndarray, classes: np.ndarray, outline: np.ndarray, *, sensor: str,
                   excluded_classes: Sequence[int] | None = None) -> float:
    """Mean broadband albedo of glacier pixels that are not cloud, shadow or nodata (NODATA or NaN bands); NaN if none."""
    excluded = class_codes(ALBEDO_EXCLUDED_CLASSES) if excluded_classes is None else tuple(excluded_classes)
    albedo = broadband_albedo(optical, sensor=sensor)
    keep = outline & (classes != NODATA) & ~np.isin(classes, excluded) & np.isfinite(albedo)
    if not keep.any():
        return float("nan")
    return float(albedo[keep].mean())


@dataclass
class SceneFeatures:
    """Predictors of one glacier-year (one scene) and what could not be computed."""

    snow_ratio: float
    snowline_m: float
    snowline_norm: float
    albedo: float
    glacier_px: int
    snow_px: int
    unobserved_fraction: float  #: share of glacier pixels that are cloud, shadow or nodata
    issues: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready dict of the fields."""
        return asdict(self)


def compute_scene_features(classes: np.ndarray, dem: np.ndarray, outline: np.ndarray, *, hypsometry: Hypsometry,
                           pixel_area_m2: float, optical: np.ndarray | None = None, sensor: str | None = None,
                           snow_classes: Sequence[str] = ("snow",),
                           snowline_percentile: float = SNOWLINE_PERCENTILE, scene_id: str = "") -> SceneFeatures:
    """All three predictors of one facies map.

    Args:
        classes: (H, W) class codes (``schema.CLASSES`` order), ``NODATA`` (255) where unmapped.
        dem: (H, W) elevation, metres.
        outline: (H, W) bool glacier mask.
        hypsometry: the glacier's fixed area and hypsometry (from its earliest scene).
        pixel_area_m2: area of one pixel of this grid.
        optical: (6, H, W) reflectance for the albedo, or None (albedo NaN, reported in ``issues``).
        sensor: sensor name, needed with ``optical``.
        snow_classes: class names counted as snow.
        snowline_percentile: percentile of snow-pixel elevations taken as the snowline.
        scene_id: id of the scene, for messages.

    Raises:
        RasterError: the rasters are on different grids.
    """
    classes = np.asarray(classes)
    dem = np.asarray(dem, dtype=np.float64)
    outline = np.asarray(outline, dtype=bool)
    shapes = {"facies map": classes.shape, "DEM": dem.shape, "outline": outline.shape}
    if optical is not None:
        shapes["optical"] = tuple(np.shape(optical)[1:])
    if len(set(shapes.values())) != 1:
        listed = ", ".join(f"{k} {v}" for k, v in shapes.items())
        msg = f"Scene {scene_id!r} of glacier {hypsometry.glacier!r}: grids differ ({listed}); all rasters must share one grid."
        raise RasterError(msg)
    snow_codes = class_codes(snow_classes)
    issues: list[str] = []
    ratio = snow_cover_ratio(classes, outline, area_m2=hypsometry.area_m2, pixel_area_m2=pixel_area_m2, snow_classes=snow_codes)
    snowline = transient_snowline(classes, dem, outline, snow_classes=snow_codes, percentile=snowline_percentile)
    if np.isnan(snowline):
        issues.append(f"no {'/'.join(snow_classes)} pixels on the glacier: snowline undefined")
        snowline_norm = float("nan")
    else:
        snowline_norm = normalise_snowline(snowline, hypsometry)
    unobserved_codes = (*class_codes(ALBEDO_EXCLUDED_CLASSES), NODATA)
    n_glacier = int(outline.sum())
    unobserved = float(np.isin(classes[outline], unobserved_codes).mean()) if n_glacier else float("nan")
    if optical is None:
        albedo = float("nan")
        issues.append("no optical bands: albedo undefined")
    else:
        if sensor is None:
            raise UnknownNameError(f"Scene {scene_id!r}: a sensor name is needed to convert the optical bands to albedo.")
        albedo = glacier_albedo(optical, classes, outline, sensor=sensor)
        if np.isnan(albedo):
            issues.append("no clear (non-cloud, non-shadow) glacier pixel: albedo undefined")
    return SceneFeatures(snow_ratio=ratio, snowline_m=snowline, snowline_norm=snowline_norm, albedo=albedo,
                         glacier_px=n_glacier, snow_px=int((np.isin(classes, snow_codes) & outline).sum()),
                         unobserved_fraction=unobserved, issues=issues)
