"""Feature functions of the facies feature stack (terrain, geometry, solar position)."""

from facies_bench.features.terrain import (
    aspect_degrees,
    cast_shadow_mask,
    compute_feature_stack,
    hillshade,
    hillshade_feature,
    in_sun_mask,
    normalise_per_glacier,
    proximity_feature,
    proximity_to_outline,
    slope_degrees,
    solar_position,
)

__all__ = [
    "aspect_degrees", "cast_shadow_mask", "compute_feature_stack", "hillshade", "hillshade_feature", "in_sun_mask", "normalise_per_glacier",
    "proximity_feature", "proximity_to_outline", "slope_degrees", "solar_position",
]
