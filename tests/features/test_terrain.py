"""Known-answer tests of the terrain feature functions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from facies_bench import schema
from facies_bench.features import (
    aspect_degrees,
    cast_shadow_mask,
    compute_feature_stack,
    hillshade,
    normalise_per_glacier,
    proximity_to_outline,
    slope_degrees,
    solar_position,
)

PIX = 10.0


def _plane(gx: float, gy: float, size: int = 32) -> np.ndarray:
    """Plane rising ``gx`` m per m to the east and ``gy`` m per m to the north (row 0 = north)."""
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    east, north = cols * PIX, -rows * PIX
    return 1000 + gx * east + gy * north


@pytest.mark.parametrize(("gx", "gy", "aspect"), [(0.0, 0.5, 180.0), (0.0, -0.5, 0.0), (0.5, 0.0, 270.0),
                                                 (-0.5, 0.0, 90.0), (-0.3, -0.3, 45.0)])
def test_tilted_plane_slope_and_aspect(gx, gy, aspect):
    dem = _plane(gx, gy)
    slope = slope_degrees(dem, PIX)
    expected = np.degrees(np.arctan(np.hypot(gx, gy)))
    np.testing.assert_allclose(slope[2:-2, 2:-2], expected, atol=1e-4)
    got = aspect_degrees(dem, PIX)[2:-2, 2:-2]
    diff = np.abs((got - aspect + 180) % 360 - 180)
    assert diff.max() < 1e-3


def test_flat_plane():
    dem = np.full((16, 16), 500.0)
    assert slope_degrees(dem, PIX).max() == 0
    assert (aspect_degrees(dem, PIX) == -1).all()
    for elev in (10.0, 35.0, 80.0):
        hs = hillshade(dem, PIX, sun_azimuth=135.0, sun_elevation=elev)
        np.testing.assert_allclose(hs, np.sin(np.radians(elev)), atol=1e-6)
    assert not cast_shadow_mask(dem, PIX, sun_azimuth=135.0, sun_elevation=5.0).any()


def test_hillshade_slope_facing_the_sun_is_fully_lit_and_away_is_dark():
    # slope of 40 degrees facing south (aspect 180), sun from the south at 50 degrees: incidence 0
    dem = _plane(0.0, np.tan(np.radians(40)))
    hs = hillshade(dem, PIX, sun_azimuth=180.0, sun_elevation=50.0)
    np.testing.assert_allclose(hs[2:-2, 2:-2], 1.0, atol=1e-6)
    # facing north, steeper than the sun: self-shadowed -> 0
    dem = _plane(0.0, -np.tan(np.radians(60)))
    assert hillshade(dem, PIX, sun_azimuth=180.0, sun_elevation=20.0)[2:-2, 2:-2].max() == 0


@pytest.mark.parametrize("elev", [20.0, 35.0, 45.0])
def test_wall_casts_shadow_of_length_h_over_tan_elevation(elev):
    size, wall_row, height = 120, 10, 200.0
    dem = np.zeros((size, size))
    dem[:wall_row + 1] = height  # a wall along the north; the sun is in the north (azimuth 0)
    shadow = cast_shadow_mask(dem, PIX, sun_azimuth=0.0, sun_elevation=elev)
    length_px = height / np.tan(np.radians(elev)) / PIX
    col = shadow[:, size // 2]
    shadowed_rows = np.flatnonzero(col)
    assert shadowed_rows.min() == wall_row + 1
    assert abs((shadowed_rows.max() - wall_row) - length_px) <= 1.0
    assert not col[: wall_row + 1].any()
    # sun from the south: the wall shadows nothing on the floor
    assert not cast_shadow_mask(dem, PIX, sun_azimuth=180.0, sun_elevation=elev)[wall_row + 1:].any()


def test_diagonal_sun_shadow_direction():
    dem = np.zeros((60, 60))
    dem[28:32, 28:32] = 100.0  # a tower; sun from the north-east casts its shadow south-west
    shadow = cast_shadow_mask(dem, PIX, sun_azimuth=45.0, sun_elevation=45.0)
    assert shadow[35, 24] and not shadow[24, 35] and not shadow[35, 35]


def test_proximity_of_a_square():
    mask = np.zeros((30, 30), bool)
    mask[5:25, 5:25] = True  # 20x20 square
    prox = proximity_to_outline(mask, PIX)
    assert prox[~mask].max() == 0
    assert prox[5, 15] == PIX and prox[6, 15] == 2 * PIX
    assert prox[14, 14] == 10 * PIX  # centre: 10 pixels from the nearest outside pixel
    norm = normalise_per_glacier(prox, mask)
    assert norm[mask].min() == 0 and norm[mask].max() == pytest.approx(1.0)


def test_normalise_per_glacier_maps_glacier_range_to_unit_interval():
    values = np.arange(16, dtype=float).reshape(4, 4) * 100
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    out = normalise_per_glacier(values, mask)
    assert out[mask].min() == 0 and out[mask].max() == pytest.approx(1.0)
    assert out[0, 0] < 0 and out[3, 3] > 1
    with pytest.raises(ValueError, match="empty"):
        normalise_per_glacier(values, np.zeros((4, 4), bool))


def test_solar_position_known_values():
    # Equinox, local solar noon at the equator: sun near the zenith
    az, el = solar_position(0.0, 0.0, dt.datetime(2020, 3, 20, 12, 7))
    assert el > 88
    # Summer solstice noon in the Alps (46 N, 7.5 E, noon is ~11:30 UTC): elevation ~ 90 - 46 + 23.4
    az, el = solar_position(46.0, 7.5, dt.datetime(2021, 6, 21, 11, 28))
    assert el == pytest.approx(67.4, abs=0.5) and az == pytest.approx(180, abs=3)
    # Morning: sun in the south-east, lower
    az, el = solar_position(46.0, 7.5, dt.datetime(2021, 8, 15, 9, 30))
    assert 110 < az < 160 and 35 < el < 55
    # Svalbard in August at Landsat time: low sun
    az, el = solar_position(78.9, 12.0, dt.datetime(2020, 8, 20, 10, 30))
    assert 15 < el < 30


def test_compute_feature_stack_order_and_values():
    rng = np.random.default_rng(0)
    dem = _plane(0.0, 0.2, size=40)
    outline = np.zeros((40, 40), bool)
    outline[8:32, 8:32] = True
    optical = rng.random((6, 40, 40)).astype(np.float32)
    stack = compute_feature_stack(optical, dem, outline, pixel_size=PIX, sun_azimuth=150.0, sun_elevation=40.0)
    assert stack.shape == (schema.N_FEATURES, 40, 40) and stack.dtype == np.float32
    np.testing.assert_array_equal(stack[:6], optical)
    idx = {n: i for i, n in enumerate(schema.FEATURE_NAMES)}
    assert stack[idx["elevation"]][outline].min() == 0 and stack[idx["elevation"]][outline].max() == pytest.approx(1)
    np.testing.assert_allclose(stack[idx["slope"]], slope_degrees(dem, PIX))
    # the shadow mask is python-dem-shadows' in-sun array: 1 = lit, 0 = cast shadow
    np.testing.assert_array_equal(stack[idx["shadow_mask"]],
                                  1.0 - cast_shadow_mask(dem, PIX, sun_azimuth=150.0, sun_elevation=40.0))
    # elevation is min-max over the glacier's pixels (matches the authors' apply.py)
    np.testing.assert_allclose(stack[idx["elevation"]][outline],
                               (dem[outline] - dem[outline].min()) / (dem[outline].max() - dem[outline].min()), rtol=1e-5)
    # the hillshade feature is the terrain lit from the zenith: cos(slope), whatever the sun
    np.testing.assert_allclose(stack[idx["hillshade"]], np.cos(np.radians(slope_degrees(dem, PIX))), atol=1e-6)
    prox = stack[idx["proximity"]]
    assert prox[~outline].max() == 0 and prox[outline].max() == pytest.approx(1)
    distance = proximity_to_outline(outline, PIX)
    np.testing.assert_allclose(prox[outline], distance[outline] / distance.max(), rtol=1e-6)  # apply.py: d / max(d)
    with pytest.raises(ValueError, match="optical"):
        compute_feature_stack(optical[:5], dem, outline, pixel_size=PIX, sun_azimuth=150.0, sun_elevation=40.0)


def test_compute_feature_stack_normalises_each_glacier_separately():
    dem = _plane(0.0, 0.2, size=40)
    ids = np.zeros((40, 40), int)
    ids[2:12, 2:12] = 1
    ids[25:38, 25:38] = 2
    optical = np.zeros((6, 40, 40), np.float32)
    stack = compute_feature_stack(optical, dem, ids > 0, pixel_size=PIX, sun_azimuth=150.0, sun_elevation=40.0,
                                  glacier_ids=ids)
    elev = stack[schema.feature_index("elevation")]
    for gid in (1, 2):
        assert elev[ids == gid].min() == 0 and elev[ids == gid].max() == pytest.approx(1)
