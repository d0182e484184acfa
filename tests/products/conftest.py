"""Fixtures of the product tests: a data-like fs4 PaperCNN, fake DEM tiles and RGI outlines.

The products themselves (SAFE trees, Landsat folders, STAC items) are written per test with the
helpers of :mod:`facies_bench.testing.products`.
"""

from __future__ import annotations

import pytest

from facies_bench.testing.mapping import make_paper_model
from facies_bench.testing.products import FAKE_BOUNDS as BOUNDS
from facies_bench.testing.products import FAKE_GLACIERS as GLACIERS
from facies_bench.testing.products import ORIGIN, write_fake_dem_tiles, write_fake_outlines, write_fake_safe


@pytest.fixture(scope="session")
def fs4_model(tiny_store):
    return make_paper_model(tiny_store, seed=0, fold=0)


@pytest.fixture(scope="session")
def dem_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dem")
    write_fake_dem_tiles(folder, bounds_utm=BOUNDS, n_tiles=2)
    return folder


@pytest.fixture(scope="session")
def outlines_gpkg(tmp_path_factory):
    """RGI-like outlines in EPSG:4326 (the products are in UTM 32N: they must be reprojected)."""
    return write_fake_outlines(tmp_path_factory.mktemp("rgi") / "rgi.gpkg", GLACIERS, crs="EPSG:4326")


@pytest.fixture
def old_multi_granule_safe(tmp_path):
    """A pre-2016 layout SAFE: old metadata names, two granules (T32TMS at ORIGIN, T32TNS 20 km east)."""
    import shutil

    date = "2015-08-20T10:20:31Z"
    root, size = tmp_path, 120
    safe = write_fake_safe(root / "a", size=size, baseline="02.01", date=date, tile="T32TMS")
    east = write_fake_safe(root / "b", size=size, baseline="02.01", date=date, tile="T32TNS",
                           origin=(ORIGIN[0] + 20000.0, ORIGIN[1]))
    for granule in (east / "GRANULE").iterdir():
        shutil.copytree(granule, safe / "GRANULE" / granule.name)
    (safe / "MTD_MSIL1C.xml").rename(safe / "S2A_OPER_MTD_SAFL1C_PDMC_20150820T150000_R022_V20150820T102031_20150820T102031.xml")
    for granule in (safe / "GRANULE").iterdir():
        (granule / "MTD_TL.xml").rename(granule / "S2A_OPER_MTD_L1C_TL_SGS__20150820T150000_A000900_T32TXX.xml")
    return safe, east

