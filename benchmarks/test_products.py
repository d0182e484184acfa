"""A full Sentinel-2 tile (10,980 x 10,980 px) with ~50 glaciers through ``map_product``: time and peak RSS.

Run explicitly (marked ``slow``; CI never collects ``benchmarks/``)::

    python -m pytest benchmarks/test_products.py -m slow -q -s

The product is a STAC item whose six band assets are local tiled GeoTIFFs (10 m B02 B03 B04 B08,
20 m B11 B12, uint16 DN with a baseline-04.00 offset), so the measured path is the one every
product takes (``read_toa`` windows, bilinear 20 m -> 10 m, DEM mosaic and warp, feature
derivation, dense mapping, COGs, table); JPEG 2000 decoding, which a SAFE adds, is not in the
figure.  DEM: four EPSG:4326 tiles at 1 arc-second (GLO-30 like).  Outlines: ``N_GLACIERS``
ellipses of 1-3 km in a GeoPackage in EPSG:4326.  Model: a random feature-set-4 PaperCNN with
data-like batch-norm statistics.  The mapping runs in a fresh process; its wall time and peak
RSS (``ru_maxrss``) go to ``extra_info`` and are printed.  Environment knobs:
``FACIES_BENCH_S2_SIZE`` (default 10980), ``FACIES_BENCH_N_GLACIERS`` (default 50),
``FACIES_BENCH_CONTEXT_M`` (default 5000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

SIZE = int(os.environ.get("FACIES_BENCH_S2_SIZE", "10980"))
N_GLACIERS = int(os.environ.get("FACIES_BENCH_N_GLACIERS", "50"))
CONTEXT_M = float(os.environ.get("FACIES_BENCH_CONTEXT_M", "5000"))
ORIGIN = (600000.0, 5200020.0)
BUDGET_BYTES = 4 * 1024**3

pytestmark = [pytest.mark.slow, pytest.mark.benchmark]


def _write_band(path: Path, res: float, n: int, k: int) -> None:
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    profile = {"driver": "GTiff", "width": n, "height": n, "count": 1, "dtype": "uint16", "crs": "EPSG:32632",
               "transform": from_origin(*ORIGIN, res, res), "nodata": 0, "tiled": True, "blockxsize": 512,
               "blockysize": 512, "BIGTIFF": "IF_SAFER"}
    rng = np.random.default_rng(k)
    with rasterio.open(path, "w", **profile) as dst:
        step = 1024
        for r0 in range(0, n, step):
            rows = min(step, n - r0)
            yy = (r0 + np.arange(rows))[:, None] / n
            xx = np.arange(n)[None, :] / n
            dn = 1000 + 3000 * (0.5 + 0.3 * np.sin(6 * xx + k) * np.cos(5 * yy)) + rng.normal(0, 80, (rows, n))
            dst.write(np.clip(dn, 1, 65535).astype(np.uint16)[None], window=Window(0, r0, n, rows))


def _terrain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    dx, dy = (x - ORIGIN[0]) / 1000.0, (ORIGIN[1] - y) / 1000.0
    return 2500.0 + 600.0 * np.sin(dx / 7.0) * np.cos(dy / 9.0) + 300.0 * np.sin(dx / 2.3 + dy / 3.1)


def _write_dem(folder: Path, bounds_utm: tuple[float, float, float, float]) -> list[Path]:
    import rasterio
    import rasterio.warp
    from rasterio.transform import from_origin

    res = 1.0 / 3600.0
    west, south, east, north = rasterio.warp.transform_bounds("EPSG:32632", "EPSG:4326", *bounds_utm)
    west, south = np.floor(west * 3600) / 3600 - 0.01, np.floor(south * 3600) / 3600 - 0.01
    east, north = east + 0.01, north + 0.01
    mid_lon, mid_lat = west + np.round((east - west) / 2 / res) * res, south + np.round((north - south) / 2 / res) * res
    paths = []
    for i, (w, e) in enumerate(((west, mid_lon), (mid_lon, east))):
        for j, (s, n) in enumerate(((mid_lat, north), (south, mid_lat))):
            ncol, nrow = int(round((e - w) / res)), int(round((n - s) / res))
            path = folder / f"dem_{i}{j}.tif"
            with rasterio.open(path, "w", driver="GTiff", width=ncol, height=nrow, count=1, dtype="float32",
                               crs="EPSG:4326", transform=from_origin(w, n, res, res), nodata=-32767.0, tiled=True,
                               blockxsize=512, blockysize=512) as dst:
                for r0 in range(0, nrow, 512):
                    rows = min(512, nrow - r0)
                    lat = n - (r0 + np.arange(rows) + 0.5) * res
                    lon = w + (np.arange(ncol) + 0.5) * res
                    glon, glat = np.meshgrid(lon, lat)
                    xs, ys = rasterio.warp.transform("EPSG:4326", "EPSG:32632", glon.ravel(), glat.ravel())
                    z = _terrain(np.asarray(xs), np.asarray(ys)).reshape(glon.shape).astype(np.float32)
                    dst.write(z[None], window=rasterio.windows.Window(0, r0, ncol, rows))
            paths.append(path)
    return paths


def _write_outlines(path: Path, n: int, size_px: int, rng: np.random.Generator) -> None:
    from facies_bench.testing.products import write_fake_outlines

    side = int(np.ceil(np.sqrt(n)))
    cell = size_px / side
    polys = {}
    for g in range(n):
        cy, cx = (g // side + 0.5) * cell, (g % side + 0.5) * cell
        a, b = rng.uniform(50, 150), rng.uniform(40, 100)  # semi-axes in 10 m pixels: 1-3 km glaciers
        t = np.linspace(0, 2 * np.pi, 48)
        ring = [(ORIGIN[0] + (cx + a * np.cos(v)) * 10.0, ORIGIN[1] - (cy + b * np.sin(v)) * 10.0) for v in t]
        ring.append(ring[0])
        polys[(f"RGI2000-v7.0-G-11-{g:05d}", f"Bench glacier {g}")] = ring
    write_fake_outlines(path, polys, crs="EPSG:4326", src_crs="EPSG:32632")


def _write_item(folder: Path, size: int) -> Path:
    bands = {"blue": ("B02", 10), "green": ("B03", 10), "red": ("B04", 10), "nir": ("B08", 10),
             "swir16": ("B11", 20), "swir22": ("B12", 20)}
    assets = {}
    for k, (key, (band, res)) in enumerate(bands.items()):
        path = folder / f"{band}.tif"
        _write_band(path, res, size * 10 // res, k)
        assets[key] = {"href": str(path), "roles": ["data"],
                       "raster:bands": [{"nodata": 0, "scale": 1e-4, "offset": -0.1}]}
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "S2A_BENCH_TILE", "stac_extensions": [],
            "geometry": None, "properties": {"datetime": "2023-08-20T10:20:00Z", "platform": "sentinel-2a",
                                              "view:sun_azimuth": 155.0, "view:sun_elevation": 48.0}, "links": [],
            "assets": assets}
    path = folder / "item.json"
    path.write_text(json.dumps(item))
    return path


CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import torch
    torch.set_num_threads(2)
    from facies_bench.models import load_model
    from facies_bench.mapping.products import map_product
    args = json.loads(sys.argv[1])
    model = load_model(args["ckpt"])
    t0 = time.perf_counter()
    res = map_product([model], args["item"], args["dem"], args["outlines"], args["out"], context_m=args["context_m"],
                      quicklook=False)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "n_mapped": res.n_mapped, "n_glaciers": len(res.table),
                      "glacier_px": int(res.table["glacier_px"].fillna(0).sum()),
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
""")


def test_full_tile_with_50_glaciers_within_4_gb(tmp_path, benchmark):
    from facies_bench.data.store import open_store
    from facies_bench.models import save_checkpoint
    from facies_bench.testing import make_tiny_store
    from facies_bench.testing.mapping import make_paper_model

    started = time.perf_counter()
    item = _write_item(tmp_path, SIZE)
    bounds = (ORIGIN[0], ORIGIN[1] - SIZE * 10.0, ORIGIN[0] + SIZE * 10.0, ORIGIN[1])
    dem = _write_dem(tmp_path, bounds)
    _write_outlines(tmp_path / "rgi.gpkg", N_GLACIERS, SIZE, np.random.default_rng(0))
    make_tiny_store(tmp_path / "tiny.zarr", seed=0)
    ckpt = tmp_path / "fs4.pt"
    save_checkpoint(make_paper_model(open_store(tmp_path / "tiny.zarr"), seed=0), ckpt)
    setup_s = time.perf_counter() - started
    args = {"ckpt": str(ckpt), "item": str(item), "dem": [str(p) for p in dem], "outlines": str(tmp_path / "rgi.gpkg"),
            "out": str(tmp_path / "out"), "context_m": CONTEXT_M}
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    benchmark.extra_info.update({**result, "size": SIZE, "context_m": CONTEXT_M, "setup_s": setup_s})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print(f"\n{SIZE} x {SIZE} tile, {result['n_mapped']}/{result['n_glaciers']} glaciers, {result['glacier_px']:,} glacier px: "
          f"{result['seconds']:.0f} s, peak RSS {result['peak_rss_bytes'] / 2**30:.2f} GiB (setup {setup_s:.0f} s)")
    assert result["n_mapped"] == N_GLACIERS
    assert result["peak_rss_bytes"] < BUDGET_BYTES
