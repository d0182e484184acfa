"""Patch read throughput of the store against one GeoTIFF per sample (how the release is read).

Run: ``python -m pytest benchmarks/test_store_throughput.py --benchmark-enable -q -s``.
The same 4,096 patches are read (a) from the Zarr store in sequential 512-patch batches,
(b) in shuffled 512-patch batches (random rows, as a training loader draws them),
(c) in chunk-shuffled batches (each batch = 512 / PATCH_CHUNK whole chunks drawn at random,
rows shuffled in memory: the usual way to shuffle chunked stores), and (d) as 4,096 single 11-band 33x33 float32 GeoTIFFs with rasterio.  Goals: store >= 20x the
GeoTIFF reads and >= 10,000 patches/s.  Compare within one run: the machine is shared.
"""

from __future__ import annotations

import numpy as np
import pytest

from facies_bench import schema
from facies_bench.data.store import PATCH_CHUNK, SceneInfo, StoreBuilder, open_store

N = 4096
BATCH = 512


@pytest.fixture(scope="module")
def store_and_tiffs(tmp_path_factory):
    """A store with N realistic-looking patches (smooth fields + noise), and the same as GeoTIFFs."""
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    from facies_bench.synth.landscape import smooth_noise

    root = tmp_path_factory.mktemp("throughput")
    rng = np.random.default_rng(0)
    side = 256
    scene = np.stack([smooth_noise(rng, (side, side), 6) * 0.1 + 0.5 for _ in range(schema.N_FEATURES)])
    scene += 0.005 * rng.standard_normal(scene.shape).astype(np.float32)
    rows = rng.integers(16, side - 17, N)
    cols = rng.integers(16, side - 17, N)
    patches = np.stack([scene[:, r - 16:r + 17, c - 16:c + 17] for r, c in zip(rows, cols)]).astype(np.float32)
    builder = StoreBuilder(root / "bench.zarr", n_samples=N, dataset_name="bench", dataset_version="1",
                           is_synthetic=True, provenance={})
    info = SceneInfo("s0", "Adler", "Sentinel-2", "2020-08-20", "EPSG:32632", (10, 0, 0, 0, -10, 0), (side, side))
    builder.add_scene(info, scene, np.ones((side, side), bool))
    for start in range(0, N, BATCH):
        builder.write_patches(start, patches[start:start + BATCH])
    builder.set_samples({"sample_id": np.arange(N), "fold": np.repeat(np.arange(6), -(-N // 6))[:N],
                         "glacier": np.zeros(N, int), "region": np.zeros(N, int), "sensor": np.zeros(N, int),
                         "scene": np.zeros(N, int), "date": np.zeros(N, int), "row": rows, "col": cols,
                         "x": cols * 10.0, "y": -rows * 10.0})
    builder.set_labels(np.zeros(N, np.int8))
    store = builder.finish()
    tiff_dir = root / "tiffs"
    tiff_dir.mkdir()
    paths = []
    for i, patch in enumerate(patches):
        path = tiff_dir / f"{i:05d}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=33, height=33, count=schema.N_FEATURES, dtype="float32",
                           crs="EPSG:32632", transform=from_origin(0, 0, 10, 10)) as dst:
            dst.write(patch)
        paths.append(path)
    return store.path, paths


def _report(benchmark, n_patches: int, label: str) -> None:
    rate = n_patches / benchmark.stats.stats.median
    benchmark.extra_info["patches_per_s"] = rate
    print(f"\n{label}: {rate:,.0f} patches/s (PATCH_CHUNK={PATCH_CHUNK})")


@pytest.mark.benchmark(group="throughput")
def test_store_sequential_batches(benchmark, store_and_tiffs):
    store = open_store(store_and_tiffs[0])

    def read_all():
        for start in range(0, N, BATCH):
            store.read_patches(slice(start, start + BATCH))

    benchmark.pedantic(read_all, rounds=3, iterations=1, warmup_rounds=1)
    _report(benchmark, N, "store sequential")


@pytest.mark.benchmark(group="throughput")
def test_store_shuffled_batches(benchmark, store_and_tiffs):
    store = open_store(store_and_tiffs[0])
    order = np.random.default_rng(1).permutation(N)

    def read_all():
        for start in range(0, N, BATCH):
            store.read_patches(order[start:start + BATCH])

    benchmark.pedantic(read_all, rounds=3, iterations=1, warmup_rounds=1)
    _report(benchmark, N, "store shuffled")


@pytest.mark.benchmark(group="throughput")
def test_store_chunk_shuffled_batches(benchmark, store_and_tiffs):
    store = open_store(store_and_tiffs[0])
    rng = np.random.default_rng(2)
    chunks = rng.permutation(N // PATCH_CHUNK)
    per_batch = max(1, BATCH // PATCH_CHUNK)

    def read_all():
        for i in range(0, len(chunks), per_batch):
            rows = np.concatenate([np.arange(c * PATCH_CHUNK, (c + 1) * PATCH_CHUNK) for c in chunks[i:i + per_batch]])
            store.read_patches(np.sort(rows))[rng.permutation(len(rows))]

    benchmark.pedantic(read_all, rounds=3, iterations=1, warmup_rounds=1)
    _report(benchmark, N, "store chunk-shuffled")


@pytest.mark.benchmark(group="throughput")
def test_geotiff_per_sample(benchmark, store_and_tiffs):
    import rasterio

    paths = store_and_tiffs[1]

    def read_all():
        for path in paths:
            with rasterio.open(path) as src:
                src.read()

    benchmark.pedantic(read_all, rounds=1, iterations=1, warmup_rounds=0)
    _report(benchmark, len(paths), "GeoTIFF per sample (rasterio)")
