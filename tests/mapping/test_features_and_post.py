"""Derived features on the scene grid, post-processing, calibration and scoring."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.transform import from_origin

from facies_bench import schema
from facies_bench.errors import RasterError
from facies_bench.features.terrain import proximity_to_outline
from facies_bench.mapping import NODATA_CLASS, map_scene, remove_islands, score_scene_map, smooth_classes
from facies_bench.mapping.features import build_feature_bands
from facies_bench.mapping.io import RasterGrid, read_aligned
from facies_bench.testing.mapping import TEST_CRS as CRS
from facies_bench.testing.mapping import TEST_ORIGIN as ORIGIN
from facies_bench.testing.mapping import write_test_raster as write_raster

H = W = 40


def _ids():
    ids = np.zeros((H, W), np.int32)
    ids[5:35, 5:35] = 1
    return ids


def test_tilted_plane_slope_derived_on_the_scene_grid(tmp_path):
    # z rises 1 m per metre eastward on a 5 m DEM grid; the scene grid is 10 m: slope 45 deg.
    fine = np.tile((np.arange(2 * W) * 5.0)[None, :], (2 * H, 1)).astype(np.float32)
    dem_path = write_raster(tmp_path / "dem5.tif", fine, transform=from_origin(*ORIGIN, 5.0, 5.0))
    grid = RasterGrid(crs=__import__("rasterio").crs.CRS.from_string(CRS), transform=from_origin(*ORIGIN, 10.0, 10.0),
                      width=W, height=H)
    dem = read_aligned(dem_path, grid, what="DEM", resample=True)
    bands = build_feature_bands(np.full((6, H, W), 0.5, np.float32), _ids(), needed=("blue", "elevation", "slope"),
                                pixel_size=grid.pixel_size, dem=dem)
    np.testing.assert_allclose(bands["slope"][2:-2, 2:-2], 45.0, atol=1e-3)
    inside = _ids() > 0
    assert bands["elevation"][inside].min() == pytest.approx(0) and bands["elevation"][inside].max() == pytest.approx(1)


def test_step_casts_a_shadow_along_the_sun_azimuth():
    dem = np.zeros((H, W), np.float32)
    dem[:20] = 100.0  # a 100 m cliff facing south; sun from the north at 45 deg -> 10 px shadow
    bands = build_feature_bands(np.full((6, H, W), 0.5, np.float32), _ids(), needed=("shadow_mask", "hillshade"),
                                pixel_size=10.0, dem=dem, sun_azimuth=0.0, sun_elevation=45.0)
    lit = bands["shadow_mask"]  # the authors' polarity: 1 = lit, 0 = cast shadow
    assert not lit[20:29, :].any() and lit[31:, :].all() and lit[:20, :].all()
    assert bands["hillshade"][35, 20] == pytest.approx(1.0, abs=1e-6)  # the authors' hillshade: cos(slope), 1 when flat


def test_supplied_rasters_win_and_proximity_is_distance_over_its_maximum_per_glacier():
    ids = np.zeros((H, W), np.int32)
    ids[2:12, 2:12] = 1
    ids[20:38, 15:39] = 2
    slope = np.full((H, W), 7.0, np.float32)
    bands = build_feature_bands(np.full((6, H, W), 0.5, np.float32), ids, needed=("slope", "proximity"), pixel_size=10.0,
                                supplied={"slope": slope})
    assert (bands["slope"] == 7.0).all()
    for gid in (1, 2):
        prox = bands["proximity"][ids == gid]
        # apply.py divides the distance by its maximum: a margin pixel keeps one pixel of distance
        distance = proximity_to_outline(ids == gid, 10.0)[ids == gid]
        np.testing.assert_allclose(prox, distance / distance.max(), rtol=1e-6)
        assert prox.max() == pytest.approx(1.0) and prox.min() == pytest.approx(10.0 / distance.max())
    assert (bands["proximity"][ids == 0] == 0).all()


def test_missing_dem_and_missing_sun_are_errors():
    optical = np.full((6, H, W), 0.5, np.float32)
    with pytest.raises(RasterError, match=r"slope.*no DEM.*--dem"):
        build_feature_bands(optical, _ids(), needed=("blue", "slope"), pixel_size=10.0, scene_path="s.tif")
    with pytest.raises(RasterError, match=r"shadow_mask.*--sun-azimuth"):
        build_feature_bands(optical, _ids(), needed=("shadow_mask",), pixel_size=10.0, dem=np.zeros((H, W)))


def test_dem_nodata_propagates_to_derived_features():
    dem = np.zeros((H, W), np.float32)
    dem[10, 10] = np.nan
    bands = build_feature_bands(np.full((6, H, W), 0.5, np.float32), _ids(), needed=("shadow_mask",), pixel_size=10.0,
                                dem=dem, sun_azimuth=180.0, sun_elevation=30.0)
    assert np.isnan(bands["shadow_mask"][10, 10]) and np.isfinite(bands["shadow_mask"][20, 20])


def test_smoothing_is_a_majority_filter_that_keeps_nodata():
    classes = np.full((9, 9), 1, np.uint8)
    classes[4, 4] = 2  # lone pixel: smoothed away
    classes[0, :] = NODATA_CLASS
    out = smooth_classes(classes, window=3)
    assert out[4, 4] == 1 and (out[0] == NODATA_CLASS).all()
    stripes = np.tile(np.array([0, 0, 0, 3, 3, 3], np.uint8), (6, 1))
    np.testing.assert_array_equal(smooth_classes(stripes, window=3), stripes)  # edges of wide zones stay
    with pytest.raises(ValueError, match="odd"):
        smooth_classes(classes, window=4)


def test_small_islands_take_the_class_around_them():
    classes = np.full((20, 20), 0, np.uint8)
    classes[2:4, 2:4] = 5  # 4 px island
    classes[10:18, 10:18] = 3  # 64 px zone
    classes[:, 19] = NODATA_CLASS
    out = remove_islands(classes, min_size=10)
    assert (out[2:4, 2:4] == 0).all() and (out[10:18, 10:18] == 3).all() and (out[:, 19] == NODATA_CLASS).all()


def test_calibrator_transforms_confidence(paper_model, scene_arrays):
    from facies_bench.evaluation.calibration import Calibrator

    features = scene_arrays[0]
    mask = np.zeros((48, 48), bool)
    mask[20:30, 20:30] = True
    raw = map_scene(paper_model, features, mask)
    cal = Calibrator(x_fit=np.array([0.0, 1.0]), dual_coef=np.array([0.0, 1.0 / np.exp(0.0)]))  # exp(-|q-1|)
    calibrated = map_scene(paper_model, features, mask, calibrator={0: cal, 1: cal})
    np.testing.assert_allclose(calibrated.confidence[mask], np.exp(-np.abs(raw.confidence[mask] - 1.0)), atol=1e-6)
    assert calibrated.calibrated and np.isnan(calibrated.confidence[~mask]).all()
    np.testing.assert_array_equal(calibrated.classes, raw.classes)


def test_score_scene_map_counts_mapped_glacier_pixels():
    truth = np.array([[0, 1], [1, 2]], np.int8)
    pred = np.array([[0, 1], [2, NODATA_CLASS]], np.uint8)
    s = score_scene_map(pred, truth, np.ones((2, 2), bool))
    assert s["n_pixels"] == 3 and s["pixel_accuracy"] == pytest.approx(2 / 3)
    assert s["per_class_f1"]["ice"] == 1.0 and s["per_class_f1"]["snow"] == pytest.approx(2 / 3)
    assert s["per_class_f1"][schema.CLASS_NAMES[2]] is None  # no true debris among the scored pixels
    assert s["macro_f1"] == pytest.approx((1.0 + 2 / 3) / 2)


@pytest.mark.parametrize(("on_disk", "azimuth"), [(False, 250.0), (True, 200.0), (False, 20.0)])
def test_block_wise_derivation_equals_the_simulator_stack(tmp_path, on_disk, azimuth):
    from facies_bench.features.terrain import compute_feature_stack

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:50, 0:45].astype(np.float64)
    dem = (1500 + 600 * np.exp(-((xx - 20) ** 2) / 60) + 500 * np.exp(-((yy - 15) ** 2) / 30) + 4 * yy + 5 * rng.standard_normal(yy.shape)).astype(np.float32)
    ids = np.zeros((50, 45), np.int32)
    ids[4:20, 3:30] = 1
    ids[25:47, 10:40] = 2
    ids[30:35, 12:16] = 0  # a nunatak
    names = ("elevation", "slope", "shadow_mask", "hillshade", "proximity")
    bands = build_feature_bands(np.full((6, 50, 45), 0.3, np.float32), ids, needed=names, pixel_size=10.0, dem=dem,
                                sun_azimuth=azimuth, sun_elevation=20.0, rows_per_block=7,
                                workdir=str(tmp_path) if on_disk else None)
    stack = compute_feature_stack(np.full((6, 50, 45), 0.3, np.float32), dem, ids > 0, pixel_size=10.0,
                                  sun_azimuth=azimuth, sun_elevation=20.0, glacier_ids=ids)
    assert stack[schema.feature_index("shadow_mask")].any()
    for name in names:
        np.testing.assert_allclose(np.asarray(bands[name]), stack[schema.feature_index(name)], atol=1e-5, err_msg=name)
