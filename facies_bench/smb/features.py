"""Facies-derived predictors of glacier-wide surface mass balance (paper, Eq. 2 and Eq. 3).

Defined in :mod:`facies_bench.features.glacier` (below both the SMB analysis and the mapper);
re-exported here, where they were first written.
"""

from facies_bench.features.glacier import (
    ALBEDO_EXCLUDED_CLASSES,
    LIANG_COEFFICIENTS,
    NODATA,
    SNOWLINE_PERCENTILE,
    AlbedoCoefficients,
    Hypsometry,
    SceneFeatures,
    albedo_coefficients,
    broadband_albedo,
    class_codes,
    compute_hypsometry,
    compute_scene_features,
    glacier_albedo,
    normalise_snowline,
    pixel_area,
    snow_cover_ratio,
    transient_snowline,
)

__all__ = [
    "ALBEDO_EXCLUDED_CLASSES",
    "AlbedoCoefficients",
    "Hypsometry",
    "LIANG_COEFFICIENTS",
    "NODATA",
    "SNOWLINE_PERCENTILE",
    "SceneFeatures",
    "albedo_coefficients",
    "broadband_albedo",
    "class_codes",
    "compute_hypsometry",
    "compute_scene_features",
    "glacier_albedo",
    "normalise_snowline",
    "pixel_area",
    "snow_cover_ratio",
    "transient_snowline",
]
