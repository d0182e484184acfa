"""Sentinel-2 L1C SAFE reader: metadata, TOA reflectance, baseline 04.00 offset, grid, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from facies_bench.errors import RasterError
from facies_bench.products import open_product, read_toa
from facies_bench.testing.products import ORIGIN, default_dn, write_fake_safe

ROLES = ("blue", "green", "red", "nir", "swir1", "swir2")


def _centres(n: int, res: float) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(ORIGIN[0] + (np.arange(n) + 0.5) * res, ORIGIN[1] - (np.arange(n) + 0.5) * res)


def test_jp2_is_writable_and_the_bands_are_real_jpeg2000(tmp_path):
    assert "JP2OpenJPEG" in rasterio.drivers.raster_driver_extensions().values()
    safe = write_fake_safe(tmp_path, size=40)
    jp2 = sorted((safe / "GRANULE").rglob("*_B02.jp2"))[0]
    with rasterio.open(jp2) as src:
        assert src.driver == "JP2OpenJPEG" and src.dtypes[0] == "uint16" and src.res == (10.0, 10.0)


@pytest.mark.parametrize("baseline,offset", [("03.01", 0.0), ("04.00", -1000.0), ("05.09", -1000.0)])
def test_toa_is_hand_computed_dn_plus_offset_over_quantification(tmp_path, baseline, offset):
    safe = write_fake_safe(tmp_path, size=40, baseline=baseline)
    product = open_product(safe)
    assert product.metadata["processing_baseline"] == baseline
    assert product.bands[0].offset == pytest.approx(offset / 10000.0)
    raw = {}
    for role, band in zip(ROLES, ("B02", "B03", "B04", "B08", "B11", "B12"), strict=True):
        with rasterio.open(next((safe / "GRANULE").rglob(f"*_{band}.jp2"))) as src:
            raw[role] = src.read(1).astype(np.float64)
    toa = read_toa(product)
    assert toa.shape == (6, 40, 40) and toa.dtype == np.float32
    # 10 m bands: one DN per pixel, (DN + RADIO_ADD_OFFSET) / QUANTIFICATION_VALUE
    for i, role in enumerate(ROLES[:4]):
        np.testing.assert_allclose(toa[i], (raw[role] + offset) / 10000.0, rtol=0, atol=1e-6)
    # the stored DN is the reflectance x 10,000 shifted by -offset, so TOA is the same for every baseline
    x, y = _centres(40, 10.0)
    np.testing.assert_allclose(toa[0], np.round(default_dn("blue", x, y)) / 10000.0, atol=1e-6)
    # 20 m bands, bilinear: a 10 m centre lies a quarter pixel from four 20 m centres (weights 9/16, 3/16, 3/16, 1/16)
    r, c = 11, 13  # 10 m pixel -> 20 m pixels rows 5,6 and cols 5,6 (centre offsets -1/4 and +1/4)
    d = raw["swir1"]
    expected = (9 * d[5, 6] + 3 * d[5, 7] + 3 * d[6, 6] + 1 * d[6, 7]) / 16.0
    assert toa[4, r, c] == pytest.approx((expected + offset) / 10000.0, abs=1e-6)


def test_grid_crs_sun_and_identity_come_from_the_xml(tmp_path):
    safe = write_fake_safe(tmp_path, size=40, sun_zenith=37.5, sun_azimuth=161.25, date="2023-08-14T10:30:21.024Z")
    p = open_product(safe)
    assert p.sensor == "Sentinel-2" and p.product_id == safe.name.removesuffix(".SAFE")
    assert p.grid.crs.to_epsg() == 32632 and p.grid.shape == (40, 40)
    assert tuple(p.grid.transform)[:6] == (10.0, 0.0, ORIGIN[0], 0.0, -10.0, ORIGIN[1])
    assert p.sun_elevation == pytest.approx(52.5) and p.sun_azimuth == pytest.approx(161.25)
    assert p.date == "2023-08-14" and p.sun_correction is False


def test_nodata_stays_nan_through_the_20m_resampling(tmp_path):
    safe = write_fake_safe(tmp_path, size=40, nodata_box=(0, 10, 0, 40))
    toa = read_toa(open_product(safe))
    assert np.isnan(toa[:, :10]).all()
    assert np.isfinite(toa[:, 10:]).all()  # the gap does not grow: the first valid 20 m row feeds row 10


def test_a_window_reads_the_same_values_as_the_whole_grid(tmp_path):
    from rasterio.windows import Window

    p = open_product(write_fake_safe(tmp_path, size=40))
    np.testing.assert_array_equal(read_toa(p, Window(7, 5, 20, 11)), read_toa(p)[:, 5:16, 7:27])


def test_missing_band_is_one_line_naming_the_product(tmp_path):
    safe = write_fake_safe(tmp_path, size=20, missing_band="B11")
    with pytest.raises(RasterError) as err:
        open_product(safe)
    msg = str(err.value)
    assert "\n" not in msg and str(safe) in msg and "swir1" in msg and "B11" in msg


def test_missing_sun_angles_name_the_granule_metadata(tmp_path):
    safe = write_fake_safe(tmp_path, size=20, sun_zenith=None, sun_azimuth=None)
    with pytest.raises(RasterError, match=r"MTD_TL\.xml.*no sun azimuth and elevation") as err:
        open_product(safe)
    assert "\n" not in str(err.value)


def test_baseline4_without_offset_list_is_refused(tmp_path):
    safe = write_fake_safe(tmp_path, size=20, baseline="04.00")
    xml = safe / "MTD_MSIL1C.xml"
    text = xml.read_text()
    start, end = text.index("<Radiometric_Offset_List>"), text.index("</Radiometric_Offset_List>")
    xml.write_text(text[:start] + text[end + len("</Radiometric_Offset_List>"):])
    with pytest.raises(RasterError, match=r"MTD_MSIL1C\.xml.*baseline 04\.00.*RADIO_ADD_OFFSET"):
        open_product(safe)


def test_not_a_product(tmp_path):
    with pytest.raises(RasterError, match="is not a Sentinel-2 L1C SAFE folder"):
        open_product(tmp_path)
    with pytest.raises(RasterError, match="does not exist"):
        open_product(tmp_path / "nope.SAFE")


def test_multi_granule_pre2016_safe_gives_one_product_per_granule(old_multi_granule_safe):
    from facies_bench.products import open_products

    safe, east = old_multi_granule_safe
    with pytest.raises(RasterError, match="holds 2 granules") as err:
        open_product(safe)
    assert str(safe) in str(err.value) and "\n" not in str(err.value)
    products = open_products(safe)
    assert [p.product_id.rsplit("_", 1)[-1] for p in products] == ["T32TMS", "T32TNS"]
    assert products[1].grid.transform.c == products[0].grid.transform.c + 20000.0
    assert products[1].sun_elevation == pytest.approx(50.0) and products[1].sensor == "Sentinel-2"
    # each granule reads its own band files, the same values as the granule written on its own
    np.testing.assert_array_equal(read_toa(products[1]), read_toa(open_product(east)))
    granule = next(g for g in (safe / "GRANULE").iterdir() if "T32TNS" in g.name)
    assert open_product(granule).product_id == products[1].product_id  # a granule folder is a product too
