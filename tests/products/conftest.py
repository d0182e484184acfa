"""Fixtures of the product tests: a data-like fs4 PaperCNN, fake DEM tiles and RGI outlines.

The products themselves (SAFE trees, Landsat folders, STAC items) are written per test with the
helpers of :mod:`facies_bench.testing.products`.
"""

from __future__ import annotations

import pytest

from facies_bench.testing.mapping import make_paper_model
from facies_bench.testing.products import FAKE_BOUNDS as BOUNDS
from facies_bench.testing.products import FAKE_GLACIERS as GLACIERS
from facies_bench.testing.products import write_fake_dem_tiles, write_fake_outlines


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
