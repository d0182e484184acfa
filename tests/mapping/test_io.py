"""Raster/outline I/O of the mapper: COG outputs, grid checks, outlines, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from facies_bench import schema
from facies_bench.errors import RasterError
from facies_bench.mapping.io import (
    NODATA_CLASS,
    RasterGrid,
    find_sun_angles,
    rasterise_outlines,
    read_aligned,
    read_optical,
    write_confidence_map,
    write_facies_map,
)
from facies_bench.testing.mapping import TEST_CRS as CRS
from facies_bench.testing.mapping import TEST_ORIGIN as ORIGIN
from facies_bench.testing.mapping import TEST_PIXEL as PIXEL
from facies_bench.testing.mapping import write_test_outline as write_outline
from facies_bench.testing.mapping import write_test_raster as write_raster


def _grid(h=64, w=64):
    return RasterGrid(crs=rasterio.crs.CRS.from_string(CRS), transform=from_origin(*ORIGIN, PIXEL, PIXEL), width=w, height=h)


def test_facies_map_is_a_cog_with_georeferencing_nodata_and_colour_table(tmp_path):
    grid = _grid(1100, 1030)
    classes = np.full(grid.shape, NODATA_CLASS, np.uint8)
    classes[100:900, 50:1000] = np.arange(800 * 950).reshape(800, 950) % schema.N_CLASSES
    path = write_facies_map(tmp_path / "facies.tif", classes, grid)
    with rasterio.open(path) as src:
        assert src.crs == grid.crs and src.transform == grid.transform
        assert src.dtypes == ("uint8",) and src.nodata == NODATA_CLASS
        assert src.block_shapes == [(512, 512)] and src.profile["tiled"]
        assert src.overviews(1), "overviews missing"
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.compression.name.lower() == "deflate"
        cmap = src.colormap(1)
        for c in schema.CLASSES:
            assert cmap[c.index][:3] == c.colour
        np.testing.assert_array_equal(src.read(1), classes)
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def test_confidence_map_float32_nan_nodata(tmp_path):
    grid = _grid(40, 50)
    conf = np.full(grid.shape, np.nan, np.float32)
    conf[5:30, 5:30] = 0.75
    path = write_confidence_map(tmp_path / "conf.tif", conf, grid)
    with rasterio.open(path) as src:
        assert src.dtypes == ("float32",) and np.isnan(src.nodata)
        assert src.crs == grid.crs and src.transform == grid.transform
        np.testing.assert_array_equal(src.read(1), conf)


def test_optical_band_count_must_be_six(tmp_path):
    path = write_raster(tmp_path / "five.tif", np.zeros((5, 8, 8), np.float32))
    with pytest.raises(RasterError, match=r"five\.tif.*5 band.*6 bands"):
        read_optical(path)


def test_optical_scaled_integers_are_refused_with_a_hint(tmp_path):
    path = write_raster(tmp_path / "dn.tif", np.full((6, 8, 8), 5000, np.uint16))
    with pytest.raises(RasterError, match="reflectance-scale"):
        read_optical(path)
    assert read_optical(path, scale=1e-4).array.max() == pytest.approx(0.5)


def test_optical_nodata_becomes_nan(tmp_path):
    data = np.full((6, 8, 8), 0.3, np.float32)
    data[:, 2, 3] = -9999
    path = write_raster(tmp_path / "nd.tif", data, nodata=-9999)
    arr = read_optical(path).array
    assert np.isnan(arr[:, 2, 3]).all() and np.isfinite(arr).sum() == 6 * 63


@pytest.mark.parametrize("change", ["origin", "crs", "shape"])
def test_aux_raster_on_another_grid_is_an_error_that_offers_resample(tmp_path, change):
    grid = _grid(32, 32)
    kwargs = {}
    shape = (32, 32)
    if change == "origin":
        kwargs["transform"] = from_origin(ORIGIN[0] + 15, ORIGIN[1], PIXEL, PIXEL)
    elif change == "crs":
        kwargs["crs"] = "EPSG:32633"
    else:
        shape = (30, 32)
    path = write_raster(tmp_path / "dem.tif", np.ones(shape, np.float32), **kwargs)
    with pytest.raises(RasterError, match=r"dem\.tif.*not on the grid.*--resample") as info:
        read_aligned(path, grid, what="DEM", reference_path="optical.tif")
    assert {"origin": "transform", "crs": "CRS", "shape": "shape"}[change] in str(info.value)


def test_resample_reprojects_onto_the_optical_grid(tmp_path):
    grid = _grid(32, 32)
    # A plane z = x (metres east) on a 5 m grid: bilinear reprojection must keep it a plane.
    fine = np.tile((np.arange(64) * 5.0 + 2.5)[None, :], (64, 1)).astype(np.float32)
    path = write_raster(tmp_path / "dem5.tif", fine, transform=from_origin(*ORIGIN, 5.0, 5.0))
    out = read_aligned(path, grid, what="DEM", resample=True)
    assert out.shape == grid.shape
    expected = np.tile((np.arange(32) * 10.0 + 5.0)[None, :], (32, 1))
    np.testing.assert_allclose(out[:, 1:-1], expected[:, 1:-1], atol=1e-3)


def test_outlines_rasterised_on_the_grid(tmp_path):
    grid = _grid(20, 30)
    path = write_outline(tmp_path / "o.geojson", (3, 12), (5, 25))
    ids = rasterise_outlines(path, grid)
    expected = np.zeros(grid.shape, np.int32)
    expected[3:12, 5:25] = 1
    np.testing.assert_array_equal(ids, expected)


def test_outlines_in_lon_lat_are_reprojected(tmp_path):
    from rasterio.warp import transform as warp_transform

    grid = _grid(20, 30)
    xs = [ORIGIN[0] + 5 * PIXEL, ORIGIN[0] + 25 * PIXEL]
    ys = [ORIGIN[1] - 3 * PIXEL, ORIGIN[1] - 12 * PIXEL]
    lon, lat = warp_transform(CRS, "EPSG:4326", [xs[0], xs[1], xs[1], xs[0], xs[0]], [ys[0], ys[0], ys[1], ys[1], ys[0]])
    payload = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [list(map(list, zip(lon, lat, strict=True)))]}}
    path = tmp_path / "ll.geojson"
    path.write_text(json.dumps(payload))  # no crs member: RFC 7946 lon/lat
    ids = rasterise_outlines(path, grid)
    rows, cols = np.nonzero(ids)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (3, 11, 5, 24)


def test_outlines_outside_the_scene_are_an_error(tmp_path):
    grid = _grid(20, 20)
    path = write_outline(tmp_path / "far.geojson", (500, 520), (500, 520))
    with pytest.raises(RasterError, match=r"far\.geojson.*do not overlap the scene"):
        rasterise_outlines(path, grid, scene_path="optical.tif")


def _write_ogr(path, rows, cols, *, crs=CRS):
    """The rectangle of ``write_outline`` as an OGR vector file (GeoPackage, shapefile)."""
    import shapely
    from pyogrio.raw import write

    x0, y0 = ORIGIN
    box = shapely.box(x0 + cols[0] * PIXEL, y0 - rows[1] * PIXEL, x0 + cols[1] * PIXEL, y0 - rows[0] * PIXEL)
    driver = {".gpkg": "GPKG", ".shp": "ESRI Shapefile"}[path.suffix]
    write(str(path), np.array([shapely.to_wkb(box)], dtype=object), field_data=[np.array(["test"], dtype=object)],
          fields=["name"], geometry_type="Polygon", crs=crs, driver=driver)
    return path


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_geopackage_and_shapefile_outlines_rasterise_like_geojson(tmp_path, suffix):
    grid = _grid(20, 30)
    expected = rasterise_outlines(write_outline(tmp_path / "o.geojson", (3, 12), (5, 25)), grid)
    ids = rasterise_outlines(_write_ogr(tmp_path / f"o{suffix}", (3, 12), (5, 25)), grid)
    np.testing.assert_array_equal(ids, expected)
    assert ids.sum() == 9 * 20


def test_shapefile_without_prj_is_an_error(tmp_path):
    path = _write_ogr(tmp_path / "o.shp", (3, 12), (5, 25))
    path.with_suffix(".prj").unlink()
    with pytest.raises(RasterError, match=r"o\.shp.*no coordinate reference system"):
        rasterise_outlines(path, _grid())


def test_unreadable_vector_file_is_an_error(tmp_path):
    path = tmp_path / "outlines.gpkg"
    path.write_bytes(b"not really")
    with pytest.raises(RasterError, match=r"outlines\.gpkg.*cannot be read as a vector file"):
        rasterise_outlines(path, _grid())


def test_sun_angles_from_tags():
    assert find_sun_angles({"SUN_AZIMUTH": "151.5", "SUN_ELEVATION": "38"}) == (151.5, 38.0)
    assert find_sun_angles({"MEAN_SOLAR_AZIMUTH_ANGLE": "160", "MEAN_SOLAR_ZENITH_ANGLE": "50"}) == (160.0, 40.0)
    assert find_sun_angles({}) == (None, None)


def test_reading_to_disk_equals_reading_into_memory(tmp_path):
    rng = np.random.default_rng(0)
    optical = rng.uniform(0, 1, (6, 40, 30)).astype(np.float32)
    optical[2, 5, 7] = -9999.0
    path = write_raster(tmp_path / "o.tif", optical, nodata=-9999.0)
    work = tmp_path / "work"
    work.mkdir()
    in_memory = read_optical(path)
    on_disk = read_optical(path, workdir=work)
    np.testing.assert_array_equal(np.stack([np.asarray(b) for b in on_disk.array]), in_memory.array)
    assert np.isnan(on_disk.array[2][5, 7]) and on_disk.array[:, ::4, ::3].shape == (6, 10, 10)
    fine = np.tile((np.arange(64) * 5.0 + 2.5)[None, :], (64, 1)).astype(np.float32)
    dem = write_raster(tmp_path / "dem5.tif", fine, transform=from_origin(*ORIGIN, 5.0, 5.0))
    grid = _grid(32, 32)
    a = read_aligned(dem, grid, what="DEM", resample=True)
    b = read_aligned(dem, grid, what="DEM", resample=True, workdir=work)
    np.testing.assert_allclose(np.asarray(b)[:, 1:-1], a[:, 1:-1], atol=1e-3)
