"""Helpers for the mapping tests and benchmarks: data-like PaperCNNs and small georeferenced rasters.

Kept in the package (not in ``tests/``) so tests and benchmarks import them without importing
the test suite.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facies_bench import schema

#: CRS, top-left corner (x, y) and pixel size of the test grid.
TEST_CRS = "EPSG:32632"
TEST_ORIGIN = (400000.0, 5100000.0)
TEST_PIXEL = 10.0


def make_paper_model(store: Any, *, seed: int, features: int | str | Sequence[str] = schema.FEATURE_NAMES,
                     fold: int | None = None) -> Any:
    """A randomly initialised PaperCNN whose batch-norm running statistics come from real patches.

    One forward pass in training mode with momentum 1 sets every BN layer's running mean and
    variance to the statistics of the store's first 128 patches (non-trivial, data-like), then
    the model is put in eval mode.

    Args:
        store: an open :class:`~facies_bench.data.store.FaciesStore`.
        seed: torch seed of the initialisation.
        features: feature set or names.
        fold: stored as ``meta["test_fold"]``.
    """
    import torch

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


def write_test_raster(path: str | Path, array: np.ndarray, *, transform: Any = None, crs: str | None = TEST_CRS,
                      nodata: float | None = None, tags: dict[str, str] | None = None) -> Path:
    """Write (H, W) or (C, H, W) ``array`` as a GeoTIFF on the test grid (or ``transform``)."""
    import rasterio
    from rasterio.transform import from_origin

    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    transform = transform or from_origin(*TEST_ORIGIN, TEST_PIXEL, TEST_PIXEL)
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[2], height=array.shape[1], count=array.shape[0],
                       dtype=array.dtype, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(array)
        if tags:
            dst.update_tags(**tags)
    return Path(path)


def write_test_outline(path: str | Path, rows: tuple[int, int], cols: tuple[int, int], *,
                       crs: str | None = TEST_CRS) -> Path:
    """A rectangle over pixel rows/cols [r0, r1) x [c0, c1) of the test grid, as GeoJSON."""
    x0, y0 = TEST_ORIGIN
    xa, xb = x0 + cols[0] * TEST_PIXEL, x0 + cols[1] * TEST_PIXEL
    ya, yb = y0 - rows[0] * TEST_PIXEL, y0 - rows[1] * TEST_PIXEL
    ring = [[xa, ya], [xb, ya], [xb, yb], [xa, yb], [xa, ya]]
    payload: dict[str, Any] = {"type": "FeatureCollection",
               "features": [{"type": "Feature", "properties": {"name": "test"},
                             "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    if crs is not None:
        payload["crs"] = {"type": "name", "properties": {"name": crs}}
    Path(path).write_text(json.dumps(payload))
    return Path(path)
