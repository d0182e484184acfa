"""Landsat Collection 2 Level-1 reader: MTL as text and JSON, TOA with the sun correction, band numbers, gaps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio

from facies_bench.errors import RasterError
from facies_bench.products import open_product, parse_mtl_text, read_mtl, read_toa
from facies_bench.testing.products import LANDSAT_ADD, LANDSAT_MULT, ORIGIN, write_fake_landsat


def test_text_and_json_mtl_parse_to_the_same_groups(tmp_path):
    folder = write_fake_landsat(tmp_path, mtl=("txt", "json"))
    txt, js = read_mtl(next(folder.glob("*_MTL.txt"))), read_mtl(next(folder.glob("*_MTL.json")))
    assert txt == js
    assert txt["IMAGE_ATTRIBUTES"]["SPACECRAFT_ID"] == "LANDSAT_8"
    assert float(txt["LEVEL1_RADIOMETRIC_RESCALING"]["REFLECTANCE_MULT_BAND_2"]) == LANDSAT_MULT


def test_mtl_text_parser_rejects_unbalanced_groups():
    with pytest.raises(RasterError, match="missing END_GROUP"):
        parse_mtl_text("GROUP = LANDSAT_METADATA_FILE\n  GROUP = X\n  A = 1\nEND_GROUP = X\n", path="x_MTL.txt")


@pytest.mark.parametrize("mtl", [("txt",), ("json",)])
def test_toa_is_mult_dn_plus_add_over_sin_sun_elevation(tmp_path, mtl):
    folder = write_fake_landsat(tmp_path, mtl=mtl, sun_elevation=41.5, size=12)
    p = open_product(folder)
    assert p.sensor == "Landsat 8" and p.sun_correction and p.sun_elevation == pytest.approx(41.5)
    toa = read_toa(p)
    assert toa.shape == (6, 36, 36)  # 30 m -> 10 m, same origin
    with rasterio.open(next(folder.glob("*_B2.TIF"))) as src:
        dn = src.read(1).astype(np.float64)
    expected = (LANDSAT_MULT * dn + LANDSAT_ADD) / math.sin(math.radians(41.5))
    # the 10 m pixel at the centre of each 30 m pixel equals that pixel (bilinear weight 1)
    np.testing.assert_allclose(toa[0, 1::3, 1::3], expected, rtol=2e-6)


@pytest.mark.parametrize("sensor,bands", [("Landsat 5", [1, 2, 3, 4, 5, 7]), ("Landsat 7", [1, 2, 3, 4, 5, 7]),
                                          ("Landsat 8", [2, 3, 4, 5, 6, 7]), ("Landsat 9", [2, 3, 4, 5, 6, 7])])
def test_each_sensor_reads_its_band_numbers(tmp_path, sensor, bands):
    p = open_product(write_fake_landsat(tmp_path, sensor=sensor, mtl=("json",), size=6))
    assert p.sensor == sensor
    assert [b.band_id for b in p.bands] == [f"B{n}" for n in bands]
    assert [b.href.rsplit("_", 1)[-1] for b in p.bands] == [f"B{n}.TIF" for n in bands]


def test_georeferencing_is_the_30m_grid_refined_to_10m(tmp_path):
    p = open_product(write_fake_landsat(tmp_path, size=8, date="2019-07-30"))
    assert p.grid.crs.to_epsg() == 32632 and p.grid.shape == (24, 24)
    assert tuple(p.grid.transform)[:6] == (10.0, 0.0, ORIGIN[0], 0.0, -10.0, ORIGIN[1])
    assert p.acquired.isoformat() == "2019-07-30T10:15:12+00:00"


def test_slc_off_gaps_stay_nan_with_their_extent(tmp_path):
    folder = write_fake_landsat(tmp_path, sensor="Landsat 7", size=12, slc_off_rows=(4, 5))
    toa = read_toa(open_product(folder))
    gap = np.isnan(toa).all(axis=(0, 2))
    assert gap.tolist() == [12 <= r < 18 for r in range(36)]  # 30 m rows 4-5 = 10 m rows 12-17, nothing more
    assert np.isfinite(toa[:, 18]).all() and np.isfinite(toa[:, 11]).all()


def test_missing_band_file_names_the_scene(tmp_path):
    folder = write_fake_landsat(tmp_path, sensor="Landsat 9", missing_band=6, size=6)
    with pytest.raises(RasterError) as err:
        open_product(folder)
    assert str(folder) in str(err.value) and "swir1" in str(err.value) and "FILE_NAME_BAND_6" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("mtl", ["txt", "json"])
def test_missing_sun_elevation_names_the_mtl(tmp_path, mtl):
    folder = write_fake_landsat(tmp_path, mtl=(mtl,), sun_elevation=None, size=6)
    with pytest.raises(RasterError, match=rf"_MTL\.{mtl}.*no sun elevation") as err:
        open_product(folder)
    assert "\n" not in str(err.value)


def test_missing_rescaling_is_refused(tmp_path):
    folder = write_fake_landsat(tmp_path, mtl=("txt",), size=6)
    path = next(folder.glob("*_MTL.txt"))
    path.write_text("\n".join(line for line in path.read_text().splitlines() if "REFLECTANCE_ADD_BAND_4" not in line))
    with pytest.raises(RasterError, match=r"REFLECTANCE_MULT/ADD_BAND_4"):
        open_product(folder)
