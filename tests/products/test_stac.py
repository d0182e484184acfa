"""STAC items read with pystac, served over a loopback HTTP server (127.0.0.1, started and stopped here)."""

from __future__ import annotations

import functools
import http.server
import json
import math
import os
import threading

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from facies_bench.errors import RasterError
from facies_bench.products import open_product, read_toa
from facies_bench.testing.products import CRS_UTM, ORIGIN, write_fake_landsat

S2_KEYS = {"blue": ("blue", "B02", 10), "green": ("green", "B03", 10), "red": ("red", "B04", 10),
           "nir": ("nir", "B08", 10), "swir1": ("swir16", "B11", 20), "swir2": ("swir22", "B12", 20)}


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with HTTP Range support (what GDAL's /vsicurl/ asks for)."""

    def log_message(self, *args):  # keep the test output quiet
        pass

    def send_head(self):
        rng = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not rng or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start, _, end = rng.removeprefix("bytes=").partition("-")
        start, end = int(start), min(int(end) if end else size - 1, size - 1)
        fh = open(path, "rb")
        fh.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._remaining = end - start + 1
        return fh

    def copyfile(self, source, outputfile):
        remaining = getattr(self, "_remaining", None)
        if remaining is None:
            return super().copyfile(source, outputfile)
        outputfile.write(source.read(remaining))


@pytest.fixture()
def server(tmp_path):
    handler = functools.partial(RangeHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _write_band(path, dn, res):
    with rasterio.open(path, "w", driver="GTiff", width=dn.shape[1], height=dn.shape[0], count=1, dtype="uint16",
                       crs=CRS_UTM, transform=from_origin(*ORIGIN, res, res), nodata=0, tiled=True,
                       blockxsize=16, blockysize=16) as dst:
        dst.write(dn, 1)


def _s2_item(folder, base_url, *, keys="common", raster_scale=True, baseline="05.09", sun=True, drop=None, size=32):
    rng = np.random.default_rng(0)
    assets = {}
    for role, (common, band, res) in S2_KEYS.items():
        n = size * 10 // res
        dn = rng.integers(1500, 9000, size=(n, n)).astype(np.uint16)
        _write_band(folder / f"{band}.tif", dn, res)
        key = common if keys == "common" else band
        if role == drop:
            continue
        asset = {"href": f"{base_url}/{band}.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                 "roles": ["data"], "eo:bands": [{"name": band, "common_name": common}]}
        if raster_scale:
            asset["raster:bands"] = [{"nodata": 0, "data_type": "uint16", "scale": 0.0001, "offset": -0.1}]
        assets[key] = asset
    props = {"datetime": "2023-08-18T10:27:45Z", "platform": "sentinel-2b", "constellation": "sentinel-2",
             "s2:processing_baseline": baseline}
    if sun:
        props.update({"view:sun_azimuth": 158.4, "view:sun_elevation": 51.2})
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "S2B_32TMS_20230818_0_L1C",
            "stac_extensions": [], "geometry": {"type": "Polygon", "coordinates": [[[6, 46], [7, 46], [7, 45], [6, 46]]]},
            "bbox": [6, 45, 7, 46], "properties": props, "links": [], "assets": assets}
    (folder / "item.json").write_text(json.dumps(item))
    return f"{base_url}/item.json"


def _dn(folder, band):
    with rasterio.open(folder / f"{band}.tif") as src:
        return src.read(1).astype(np.float64)


def test_earth_search_item_over_http_gives_hand_computed_toa(server):
    folder, url = server
    p = open_product(_s2_item(folder, url))
    assert p.sensor == "Sentinel-2" and p.product_id == "S2B_32TMS_20230818_0_L1C" and p.date == "2023-08-18"
    assert (p.sun_azimuth, p.sun_elevation) == (158.4, 51.2)
    assert p.grid.shape == (32, 32) and tuple(p.grid.transform)[:6] == (10.0, 0.0, ORIGIN[0], 0.0, -10.0, ORIGIN[1])
    assert [b.band_id for b in p.bands] == ["blue", "green", "red", "nir", "swir16", "swir22"]
    toa = read_toa(p)
    np.testing.assert_allclose(toa[3], _dn(folder, "B08") * 1e-4 - 0.1, atol=1e-6)
    b11 = _dn(folder, "B11")  # 20 m: the 10 m pixel (5, 7) is 9/16, 3/16, 3/16, 1/16 of 20 m pixels (2,3),(2,4),(3,3),(3,4)
    expected = (9 * b11[2, 3] + 3 * b11[2, 4] + 3 * b11[3, 3] + b11[3, 4]) / 16 * 1e-4 - 0.1
    assert toa[4, 5, 7] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("baseline,offset", [("04.00", -1000.0), ("02.09", 0.0)])
def test_band_name_keys_without_raster_scale_use_the_baseline(server, baseline, offset):
    folder, url = server
    p = open_product(_s2_item(folder, url, keys="bands", raster_scale=False, baseline=baseline))
    assert [b.band_id for b in p.bands] == ["B02", "B03", "B04", "B08", "B11", "B12"]
    np.testing.assert_allclose(read_toa(p)[0], (_dn(folder, "B02") + offset) / 10000.0, atol=1e-6)


def test_local_item_file_works_too(server):
    folder, url = server
    _s2_item(folder, url)
    assert open_product(folder / "item.json").product_id == "S2B_32TMS_20230818_0_L1C"


def test_missing_band_asset_names_the_item(server):
    folder, url = server
    item = _s2_item(folder, url, drop="swir2")
    with pytest.raises(RasterError) as err:
        open_product(item)
    assert item in str(err.value) and "swir2" in str(err.value) and "\n" not in str(err.value)


def test_missing_sun_angles_name_the_item(server):
    folder, url = server
    item = _s2_item(folder, url, sun=False)
    with pytest.raises(RasterError, match=r"STAC item .*item\.json.*no sun azimuth and elevation") as err:
        open_product(item)
    assert "\n" not in str(err.value)


def test_unreachable_item_is_one_line(server):
    _, url = server
    with pytest.raises(RasterError, match=r"STAC item .*missing\.json.* cannot be read"):
        open_product(f"{url}/missing.json")


def test_landsat_item_with_mtl_asset_is_sun_corrected(server):
    folder, url = server
    scene = write_fake_landsat(folder, sensor="Landsat 9", mtl=("json",), size=8, sun_elevation=44.0)
    assets = {}
    for key, n in zip(("blue", "green", "red", "nir08", "swir16", "swir22"), (2, 3, 4, 5, 6, 7), strict=True):
        name = next(scene.glob(f"*_B{n}.TIF")).name
        assets[key] = {"href": f"{url}/{scene.name}/{name}", "roles": ["data"]}
    assets["mtl.json"] = {"href": f"{url}/{scene.name}/{next(scene.glob('*_MTL.json')).name}", "roles": ["metadata"]}
    item = {"type": "Feature", "stac_version": "1.0.0", "id": scene.name, "stac_extensions": [],
            "geometry": None, "properties": {"datetime": "2021-08-15T10:15:12Z", "platform": "landsat-9"},
            "links": [], "assets": assets}
    (folder / "ls.json").write_text(json.dumps(item))
    p = open_product(f"{url}/ls.json")
    assert p.sensor == "Landsat 9" and p.sun_correction and p.sun_elevation == pytest.approx(44.0)
    with rasterio.open(next(scene.glob("*_B5.TIF"))) as src:
        dn = src.read(1).astype(np.float64)
    np.testing.assert_allclose(read_toa(p)[3, 1::3, 1::3], (2e-5 * dn - 0.1) / math.sin(math.radians(44.0)), rtol=2e-6)
