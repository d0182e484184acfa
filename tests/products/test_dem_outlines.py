"""DEM tiles mosaicked and warped onto a window; RGI outlines selected by id / name / scene, reprojected."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import Affine

from facies_bench.errors import RasterError, UnknownNameError
from facies_bench.mapping.io import RasterGrid
from facies_bench.products import load_glaciers, open_dem_tiles, read_dem, read_glacier_outlines, select_glaciers
from facies_bench.testing.products import FAKE_BOUNDS as BOUNDS
from facies_bench.testing.products import FAKE_GLACIERS as GLACIERS
from facies_bench.testing.products import ORIGIN, box_ring, default_terrain, write_fake_dem_tiles, write_fake_outlines

UTM = CRS.from_epsg(32632)


def _grid(col0=0, row0=0, n=120):
    return RasterGrid(UTM, Affine(10.0, 0.0, ORIGIN[0] + col0 * 10, 0.0, -10.0, ORIGIN[1] - row0 * 10), n, n)


def test_two_geographic_tiles_mosaic_seamlessly_onto_the_utm_grid(dem_dir):
    tiles = open_dem_tiles([dem_dir])
    assert len(tiles) == 2 and all(t.crs.to_epsg() == 4326 for t in tiles)
    grid = _grid()
    z = read_dem(tiles, grid)
    cols, rows = np.meshgrid(np.arange(120), np.arange(120))
    x, y = ORIGIN[0] + (cols + 0.5) * 10, ORIGIN[1] - (rows + 0.5) * 10
    assert np.isfinite(z).all()
    # bilinear on 30 m (1 arc-second) cells of a smooth terrain: within a few metres everywhere, seam included
    assert np.abs(z - default_terrain(x, y)).max() < 6.0
    # one tile alone leaves the other half of the grid without elevation
    west = read_dem(tiles[:1], grid)
    assert np.isnan(west[:, -10:]).all() and np.isfinite(west[:, :10]).all()


def test_dem_window_matches_the_full_grid(dem_dir):
    tiles = open_dem_tiles([dem_dir])
    full = read_dem(tiles, _grid())
    # same source pixels; only GDAL's approximate coordinate transformer differs (centimetres)
    np.testing.assert_allclose(read_dem(tiles, _grid(30, 40, 50)), full[40:90, 30:80], atol=0.05)


def test_dem_that_overlaps_nothing_names_the_tiles(tmp_path):
    far = write_fake_dem_tiles(tmp_path, bounds_utm=(700000, 5000000, 701000, 5001000), n_tiles=1)
    with pytest.raises(RasterError, match=rf"DEM tile\(s\) {far[0].name} do not overlap"):
        read_dem(open_dem_tiles(far), _grid())


def test_missing_dem_tile_and_mixed_crs(tmp_path, dem_dir):
    with pytest.raises(RasterError, match="DEM tile .*nope.tif' does not exist"):
        open_dem_tiles([tmp_path / "nope.tif"])
    utm_tile = tmp_path / "utm.tif"
    from facies_bench.testing.products import _write_raster

    _write_raster(utm_tile, np.zeros((4, 4), np.float32), res=30.0, origin=ORIGIN, driver="GTiff")
    with pytest.raises(RasterError, match="different CRSs"):
        open_dem_tiles([dem_dir, utm_tile])


def test_outlines_in_another_crs_are_reprojected(outlines_gpkg):
    geo = read_glacier_outlines(outlines_gpkg)
    utm = read_glacier_outlines(outlines_gpkg, crs=UTM)
    assert [g.glacier_id for g in utm] == [k[0] for k in GLACIERS]
    x0, y0 = utm[0].geometry["coordinates"][0][0]
    assert abs(x0 - (ORIGIN[0] + 100)) < 0.01 and abs(y0 - (ORIGIN[1] - 100)) < 0.01  # back to the UTM vertex
    assert abs(geo[0].geometry["coordinates"][0][0][0]) < 180  # the file itself is in degrees


def test_select_by_id_and_by_name(outlines_gpkg):
    outlines = read_glacier_outlines(outlines_gpkg, crs=UTM)
    assert [g.name for g in select_glaciers(outlines, ["rgi2000-v7.0-g-11-00002"], path=outlines_gpkg)] == ["Gebroulaz"]
    assert [g.glacier_id for g in select_glaciers(outlines, ["glacier a"], path=outlines_gpkg)] == ["RGI2000-v7.0-G-11-00001"]


def test_an_id_that_matches_nothing_is_one_line_naming_the_file(outlines_gpkg):
    outlines = read_glacier_outlines(outlines_gpkg, crs=UTM)
    with pytest.raises(UnknownNameError) as err:
        select_glaciers(outlines, ["RGI2000-v7.0-G-11-00003"], path=outlines_gpkg)
    msg = str(err.value)
    assert str(outlines_gpkg) in msg and "RGI2000-v7.0-G-11-00003" in msg and "Close matches" in msg and "\n" not in msg


def test_all_glaciers_intersecting_the_scene(tmp_path):
    polys = {**GLACIERS, ("RGI2000-v7.0-G-11-09999", "Far away"): box_ring(500, 500, 520, 520)}
    shp = write_fake_outlines(tmp_path / "rgi.shp", polys, crs="EPSG:4326")
    chosen = load_glaciers(shp, crs=UTM, scene_bounds=BOUNDS)
    assert sorted(g.glacier_id for g in chosen) == sorted(k[0] for k in GLACIERS)
    with pytest.raises(RasterError, match="Far away .* lie outside the product"):
        load_glaciers(shp, crs=UTM, scene_bounds=BOUNDS, selectors=["Far away"])


def test_shapefile_without_prj_is_refused(tmp_path):
    shp = write_fake_outlines(tmp_path / "rgi.shp", GLACIERS, crs="EPSG:4326")
    shp.with_suffix(".prj").unlink()
    with pytest.raises(RasterError, match=r"rgi\.shp' has no coordinate reference system"):
        read_glacier_outlines(shp)
