"""Known-answer tests of the SMB predictors."""

from __future__ import annotations

import numpy as np
import pytest

from facies_bench import schema
from facies_bench.errors import RasterError, UnknownNameError
from facies_bench.smb import features as feat

SNOW, FIRN, ICE, CLOUD, SHADOW = (schema.class_index(c) for c in ("snow", "firn", "ice", "cloud", "shadow"))


def _ramp(h=10, w=4):
    """DEM rising 100 m per row from the bottom: row r has elevation 100 * (h - 1 - r) + 1000."""
    rows = np.arange(h, dtype=np.float64)[:, None]
    return np.repeat(1000.0 + 100.0 * (h - 1 - rows), w, axis=1)


def test_snow_ratio_and_snowline_known_answer():
    dem = _ramp()  # 10 rows: 1900 (top) ... 1000 (bottom)
    outline = np.ones(dem.shape, bool)
    classes = np.full(dem.shape, ICE, np.uint8)
    classes[:3] = SNOW  # rows 0-2: 1900, 1800, 1700 m
    classes[3] = FIRN
    hyps = feat.compute_hypsometry(dem, outline, pixel_area_m2=100.0, glacier="Silvretta")
    assert hyps.area_m2 == 40 * 100.0
    assert (hyps.mean_m, hyps.min_m, hyps.max_m) == (1450.0, 1000.0, 1900.0)
    out = feat.compute_scene_features(classes, dem, outline, hypsometry=hyps, pixel_area_m2=100.0)
    assert out.snow_ratio == pytest.approx(12 / 40)
    # 12 snow elevations: 4 x 1700, 4 x 1800, 4 x 1900; numpy's linear 5th percentile is 1700.
    assert out.snowline_m == pytest.approx(np.percentile([1700] * 4 + [1800] * 4 + [1900] * 4, 5))
    assert out.snowline_m == pytest.approx(1700.0)
    assert out.snowline_norm == pytest.approx((1700 - 1450) / 900)
    assert out.snow_px == 12 and out.glacier_px == 40


def test_firn_counts_only_when_asked():
    dem = _ramp()
    outline = np.ones(dem.shape, bool)
    classes = np.full(dem.shape, ICE, np.uint8)
    classes[:3] = SNOW
    classes[3] = FIRN  # row 3: 1600 m
    hyps = feat.compute_hypsometry(dem, outline, pixel_area_m2=1.0)
    both = feat.compute_scene_features(classes, dem, outline, hypsometry=hyps, pixel_area_m2=1.0, snow_classes=("snow", "firn"))
    assert both.snow_ratio == pytest.approx(16 / 40)
    assert both.snowline_m == pytest.approx(np.percentile([1600] * 4 + [1700] * 4 + [1800] * 4 + [1900] * 4, 5))


def test_area_and_hypsometry_are_fixed_from_the_given_scene():
    dem = _ramp()
    first_outline = np.ones(dem.shape, bool)
    hyps = feat.compute_hypsometry(dem, first_outline, pixel_area_m2=1.0)
    # a later, shrunken glacier: only the upper half remains, all snow
    later_outline = np.zeros(dem.shape, bool)
    later_outline[:5] = True
    classes = np.where(later_outline, SNOW, 255).astype(np.uint8)
    out = feat.compute_scene_features(classes, dem, later_outline, hypsometry=hyps, pixel_area_m2=1.0)
    assert out.snow_ratio == pytest.approx(20 / 40)  # divided by the earliest area, not the later one
    assert out.snowline_norm == pytest.approx((np.percentile(dem[:5], 5) - 1450) / 900)


def test_snow_outside_the_outline_is_ignored_and_pixel_area_scales():
    dem = _ramp()
    outline = np.zeros(dem.shape, bool)
    outline[:, :2] = True
    classes = np.full(dem.shape, SNOW, np.uint8)
    hyps = feat.compute_hypsometry(dem, outline, pixel_area_m2=900.0)
    out = feat.compute_scene_features(classes, dem, outline, hypsometry=hyps, pixel_area_m2=900.0)
    assert out.snow_ratio == pytest.approx(1.0)
    # a map on a 10 m grid against a hypsometry measured on a 30 m grid: areas in m2 are compared
    assert feat.snow_cover_ratio(classes, outline, area_m2=hyps.area_m2, pixel_area_m2=100.0, snow_classes=(SNOW,)) == pytest.approx(1 / 9)


def test_no_snow_gives_nan_snowline_and_an_issue():
    dem = _ramp()
    outline = np.ones(dem.shape, bool)
    classes = np.full(dem.shape, ICE, np.uint8)
    hyps = feat.compute_hypsometry(dem, outline, pixel_area_m2=1.0)
    out = feat.compute_scene_features(classes, dem, outline, hypsometry=hyps, pixel_area_m2=1.0)
    assert out.snow_ratio == 0.0
    assert np.isnan(out.snowline_m) and np.isnan(out.snowline_norm)
    assert any("no snow pixels" in i for i in out.issues)
    assert any("no optical bands" in i for i in out.issues)


def test_mismatched_grids_raise():
    dem = _ramp()
    outline = np.ones(dem.shape, bool)
    hyps = feat.compute_hypsometry(dem, outline, pixel_area_m2=1.0)
    with pytest.raises(RasterError, match="grids differ"):
        feat.compute_scene_features(np.zeros((5, 4), np.uint8), dem, outline, hypsometry=hyps, pixel_area_m2=1.0, scene_id="s1")
    with pytest.raises(RasterError, match="different grids"):
        feat.compute_hypsometry(dem, outline[:5], pixel_area_m2=1.0)


@pytest.mark.parametrize("sensor", ["Landsat 5", "Landsat 7", "Landsat 8", "Landsat 9", "Sentinel-2", "S2", "L8"])
def test_albedo_matches_hand_computed_liang(sensor):
    # reflectance of blue, green, red, nir, swir1, swir2
    bands = np.array([0.80, 0.70, 0.60, 0.50, 0.10, 0.05])
    # 0.356*0.80 + 0.130*0.60 + 0.373*0.50 + 0.085*0.10 + 0.072*0.05 - 0.0018
    # = 0.2848 + 0.078 + 0.1865 + 0.0085 + 0.0036 - 0.0018 = 0.5596
    assert feat.broadband_albedo(bands, sensor=sensor) == pytest.approx(0.5596, abs=1e-12)
    # the green band has no weight in any of the conversions
    assert feat.broadband_albedo(bands + np.array([0, 0.3, 0, 0, 0, 0]), sensor=sensor) == pytest.approx(0.5596, abs=1e-12)


def test_albedo_per_band_weights_follow_the_sensor_band_ids():
    for sensor, coeffs in feat.LIANG_COEFFICIENTS.items():
        s = schema.SENSORS[schema.sensor_index(sensor)]
        unit = np.eye(6)
        got = [feat.broadband_albedo(unit[i], sensor=sensor) - coeffs.intercept for i in range(6)]
        assert got == pytest.approx([0.356, 0.0, 0.130, 0.373, 0.085, 0.072])
        named = [b for b, w in zip(s.band_ids, got, strict=True) if w > 0]
        assert all(b in coeffs.source for b in named), (sensor, named, coeffs.source)


def test_glacier_albedo_excludes_cloud_shadow_and_nodata():
    classes = np.array([[SNOW, ICE, CLOUD, SHADOW, 255]], np.uint8)
    outline = np.ones(classes.shape, bool)
    optical = np.zeros((6, 1, 5))
    optical[:, 0, 0] = [0.9, 0.9, 0.9, 0.8, 0.1, 0.1]
    optical[:, 0, 1] = [0.5, 0.5, 0.4, 0.3, 0.05, 0.05]
    optical[:, 0, 2:] = 0.99  # would pull the mean up if counted
    expected = np.mean([feat.broadband_albedo(optical[:, 0, 0], sensor="Landsat 8"),
                        feat.broadband_albedo(optical[:, 0, 1], sensor="Landsat 8")])
    assert feat.glacier_albedo(optical, classes, outline, sensor="Landsat 8") == pytest.approx(expected)
    assert np.isnan(feat.glacier_albedo(optical, np.full_like(classes, CLOUD), outline, sensor="Landsat 8"))


def test_unknown_sensor_for_albedo():
    with pytest.raises(UnknownNameError, match="Valid: Landsat 5"):
        feat.broadband_albedo(np.zeros(6), sensor="MODIS")
    with pytest.raises(RasterError, match="six|6 bands"):
        feat.broadband_albedo(np.zeros(4), sensor="Landsat 8")


def test_slc_off_gaps_are_left_out_of_snow_ratio_and_albedo():
    """Landsat 7 SLC-off stripes: nodata in the map and NaN in the bands, neither biases the predictors."""
    dem = _ramp(h=10, w=10)
    outline = np.ones(dem.shape, bool)
    classes = np.full(dem.shape, ICE, np.uint8)
    classes[:4] = SNOW  # 40 % snow
    optical = np.zeros((6, 10, 10))
    optical[:, :4] = np.array([0.9, 0.9, 0.9, 0.8, 0.1, 0.1])[:, None, None]
    optical[:, 4:] = np.array([0.5, 0.5, 0.4, 0.3, 0.05, 0.05])[:, None, None]
    hyps = feat.compute_hypsometry(dem, outline, pixel_area_m2=1.0)
    clean = feat.compute_scene_features(classes, dem, outline, hypsometry=hyps, pixel_area_m2=1.0, optical=optical, sensor="Landsat 7")
    gappy_classes, gappy_optical = classes.copy(), optical.copy()
    gap = np.zeros(dem.shape, bool)
    gap[:, 3:5] = True  # a stripe through every elevation: 20 % of the glacier
    gappy_classes[gap] = feat.NODATA
    gappy_optical[:, gap] = np.nan
    gappy = feat.compute_scene_features(gappy_classes, dem, outline, hypsometry=hyps, pixel_area_m2=1.0,
                                        optical=gappy_optical, sensor="Landsat 7")
    assert clean.snow_ratio == pytest.approx(0.4)
    assert gappy.snow_ratio == pytest.approx(0.4)  # not 0.32: gaps are not snow-free ice
    assert gappy.snowline_m == clean.snowline_m
    assert gappy.albedo == pytest.approx(clean.albedo)  # NaN reflectance never enters the mean
    assert gappy.unobserved_fraction == pytest.approx(0.2)
    # NaN bands under a mapped class (e.g. true facies) are left out of the albedo too
    assert feat.glacier_albedo(gappy_optical, classes, outline, sensor="Landsat 7") == pytest.approx(clean.albedo)
    # a map with no observed glacier pixel has no snow ratio
    assert np.isnan(feat.snow_cover_ratio(np.full(dem.shape, feat.NODATA, np.uint8), outline, area_m2=100.0, pixel_area_m2=1.0))
