"""Fixtures of the mapping tests: small random PaperCNNs and a small georeferenced scene on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facies_bench import schema

CRS = "EPSG:32632"
ORIGIN = (400000.0, 5100000.0)  # top-left corner (x, y)
PIXEL = 10.0


def make_paper_model(store, *, seed: int, features=schema.FEATURE_NAMES, fold: int | None = None):
    """A randomly initialised PaperCNN whose batch-norm running statistics come from real patches.

    One forward pass in training mode with momentum 1 sets every BN layer's running mean and
    variance to the statistics of the store's first 128 patches (non-trivial, data-like), then
    the model is put in eval mode.
    """
    from facies_bench.models import FaciesModel, PaperCNN

    torch.manual_seed(seed)
    names = schema.resolve_features(features)
    idx = store.feature_indices(names)
    model = FaciesModel(PaperCNN(len(names)), features=names, feature_min=store.feature_min[idx],
                        feature_max=store.feature_max[idx], model_name="cnn_baseline",
                        builder="facies_bench.models.cnn_baseline:build_paper_cnn",
                        meta={} if fold is None else {"test_fold": fold})
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0
    with torch.no_grad():
        model(torch.from_numpy(store.read_patches(slice(0, 128), features=names)))
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.01
    return model.eval()


@pytest.fixture(scope="session")
def paper_model(tiny_store):
    return make_paper_model(tiny_store, seed=0)


@pytest.fixture(scope="session")
def scene_arrays(tiny_store):
    """The first tiny-store scene: (features (11, 48, 48), outline, dem, true facies, scene id)."""
    scene_id = tiny_store.scene_ids[0]
    s = tiny_store.scene(scene_id)
    return s.features, s.outline, s.dem, s.true_facies, scene_id


def write_raster(path: Path, array: np.ndarray, *, transform=None, crs: str | None = CRS, nodata=None, tags=None) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    transform = transform or from_origin(*ORIGIN, PIXEL, PIXEL)
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[2], height=array.shape[1], count=array.shape[0],
                       dtype=array.dtype, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(array)
        if tags:
            dst.update_tags(**tags)
    return path


def write_outline(path: Path, rows: tuple[int, int], cols: tuple[int, int], *, crs: str | None = CRS) -> Path:
    """A rectangular outline covering pixel rows/cols [r0, r1) x [c0, c1) of the test grid, as GeoJSON."""
    x0, y0 = ORIGIN
    xa, xb = x0 + cols[0] * PIXEL, x0 + cols[1] * PIXEL
    ya, yb = y0 - rows[0] * PIXEL, y0 - rows[1] * PIXEL
    ring = [[xa, ya], [xb, ya], [xb, yb], [xa, yb], [xa, ya]]
    payload = {"type": "FeatureCollection",
               "features": [{"type": "Feature", "properties": {"name": "test"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    if crs is not None:
        payload["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(payload))
    return path


@pytest.fixture()
def raster_scene(tmp_path, scene_arrays):
    """The tiny scene written as rasters: optical.tif (6 bands, sun tags), dem.tif, outlines.geojson."""
    features, _, dem, _, _ = scene_arrays
    optical = write_raster(tmp_path / "optical.tif", features[:6].astype(np.float32),
                           tags={"SUN_AZIMUTH": "160", "SUN_ELEVATION": "40"})
    dem_path = write_raster(tmp_path / "dem.tif", dem.astype(np.float32))
    outlines = write_outline(tmp_path / "outlines.geojson", (6, 42), (4, 44))
    return {"optical": optical, "dem": dem_path, "outlines": outlines, "dir": tmp_path}
