"""Fixtures of the mapping tests: small data-like PaperCNNs and a small georeferenced scene on disk.

Helpers live in :mod:`facies_bench.testing.mapping`; tests import them from there.
"""

from __future__ import annotations

import numpy as np
import pytest

from facies_bench.testing.mapping import make_paper_model, write_test_outline, write_test_raster


@pytest.fixture(scope="session")
def paper_model(tiny_store):
    return make_paper_model(tiny_store, seed=0)


@pytest.fixture(scope="session")
def scene_arrays(tiny_store):
    """The first tiny-store scene: (features (11, 48, 48), outline, dem, true facies, scene id)."""
    scene_id = tiny_store.scene_ids[0]
    s = tiny_store.scene(scene_id)
    return s.features, s.outline, s.dem, s.true_facies, scene_id


@pytest.fixture()
def raster_scene(tmp_path, scene_arrays):
    """The tiny scene written as rasters: optical.tif (6 bands, sun tags), dem.tif, outlines.geojson."""
    features, _, dem, _, _ = scene_arrays
    optical = write_test_raster(tmp_path / "optical.tif", features[:6].astype(np.float32),
                                tags={"SUN_AZIMUTH": "160", "SUN_ELEVATION": "40"})
    dem_path = write_test_raster(tmp_path / "dem.tif", dem.astype(np.float32))
    outlines = write_test_outline(tmp_path / "outlines.geojson", (6, 42), (4, 44))
    return {"optical": optical, "dem": dem_path, "outlines": outlines, "dir": tmp_path}
