"""Patch layouts of the store, and the production store, against one GeoTIFF per sample.

Run (skipped without ``--benchmark-enable``, as CI runs pytest):
``nice -n 5 python -m pytest benchmarks/test_store_throughput.py --benchmark-enable -q -s``.

The same ``N`` patches are written (a) as ``N`` single 11-band 33x33 float32 GeoTIFFs (how the
published release is read, with rasterio) and (b) as Zarr v3 patch arrays in several layouts —
shard size and compressor — each written the way its builder writes it (schema 1: zarr-python;
schema 2: TensorStore encoding whole shards) and read through TensorStore, sequentially
(512-row slices), in random 512-row batches and one random row at a time.  ``test_layout_report`` prints every layout's disk size and rates as
ratios against the GeoTIFF reads of the same run; it is how ``PATCH_SHARD`` and the compressor
were chosen.  Patches: ``$FACIES_BENCH_BENCH_STORE``'s first ``N`` rows if set (simulator
output), else smooth fields plus noise.  Compare within one run: the machine is shared.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from facies_bench import schema
from facies_bench.data.store import PATCH_SHARD, StoreBuilder, open_store

N = int(os.environ.get("FACIES_BENCH_BENCH_N", "8192"))
BATCH = 512
#: (label, patches per shard or None for unsharded 64-patch chunks, blosc cname, clevel, shuffle)
LAYOUTS = [
    ("v1: 64-patch chunks, zstd-3 bitshuffle", None, "zstd", 3, "bitshuffle"),
    ("shard 256, zstd-3 bitshuffle", 256, "zstd", 3, "bitshuffle"),
    ("shard 256, zstd-3 shuffle", 256, "zstd", 3, "shuffle"),
    ("shard 256, lz4-5 shuffle", 256, "lz4", 5, "shuffle"),
    ("shard 64, lz4hc-3 shuffle", 64, "lz4hc", 3, "shuffle"),
    ("shard 256, lz4hc-3 shuffle (production)", 256, "lz4hc", 3, "shuffle"),
    ("shard 1024, lz4hc-3 shuffle", 1024, "lz4hc", 3, "shuffle"),
]
RESULTS: dict[str, dict[str, float]] = {}
pytestmark = pytest.mark.benchmark


def _patches() -> np.ndarray:
    given = os.environ.get("FACIES_BENCH_BENCH_STORE")
    if given:
        return open_store(given).read_patches(slice(0, N))
    from facies_bench.synth.landscape import smooth_noise

    rng = np.random.default_rng(0)
    side = 256
    scene = np.stack([smooth_noise(rng, (side, side), 6) * 0.1 + 0.5 for _ in range(schema.N_FEATURES)])
    scene += 0.005 * rng.standard_normal(scene.shape).astype(np.float32)
    rows = rng.integers(16, side - 17, N)
    cols = rng.integers(16, side - 17, N)
    return np.stack([scene[:, r - 16:r + 17, c - 16:c + 17] for r, c in zip(rows, cols, strict=True)]).astype(np.float32)


def _write_layout(path: Path, patches: np.ndarray, shard: int | None, cname: str, clevel: int, shuffle: str) -> float:
    """Write ``patches`` in one layout; returns the write rate (patches/s)."""
    g = zarr.open_group(str(path), mode="w", zarr_format=3)
    shape = patches.shape
    codecs = [zarr.codecs.BloscCodec(cname=cname, clevel=clevel, shuffle=shuffle), zarr.codecs.Crc32cCodec()]
    if shard is None:
        arr = g.create_array("patches", shape=shape, chunks=(64, *shape[1:]), dtype="float32", compressors=codecs[:1])
    else:
        arr = g.create_array("patches", shape=shape, chunks=(1, *shape[1:]), shards=(shard, *shape[1:]), dtype="float32",
                             compressors=codecs, config={"write_empty_chunks": True})
    step = shard or 64
    block = max(step, 4096 // step * step)
    t0 = time.perf_counter()
    if shard is None:  # the schema-1 builder wrote through zarr-python
        for start in range(0, len(patches), block):
            arr[start:start + block] = patches[start:start + block]
    else:  # the schema-2 builder: zarr-python defines the array, TensorStore encodes whole shards
        import tensorstore as ts

        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path / "patches") + "/"},
                "store_data_equal_to_fill_value": True}
        handle = ts.open(spec, read=True, write=True, open=True).result()
        for start in range(0, len(patches), block):
            handle[start:start + block].write(patches[start:start + block]).result()
    return len(patches) / (time.perf_counter() - t0)


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.fixture(scope="module")
def layouts(request, tmp_path_factory):
    if request.config.getoption("benchmark_disable", False) and not request.config.getoption("benchmark_enable", False):
        pytest.skip("a benchmark: run with --benchmark-enable")
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    root = tmp_path_factory.mktemp("layouts")
    patches = _patches()
    out = {"patches": patches, "tiffs": []}
    tiff_dir = root / "tiffs"
    tiff_dir.mkdir()
    for i, patch in enumerate(patches):
        path = tiff_dir / f"{i:05d}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=33, height=33, count=schema.N_FEATURES, dtype="float32",
                           crs="EPSG:32632", transform=from_origin(0, 0, 10, 10)) as dst:
            dst.write(patch)
        out["tiffs"].append(path)
    out["tiff_bytes"] = _du(tiff_dir)
    for label, shard, cname, clevel, shuffle in LAYOUTS:
        path = root / f"{len(out)}.zarr"
        out[label] = path
        out[f"{label} write"] = _write_layout(path, patches, shard, cname, clevel, shuffle)
    return out


def test_geotiff_per_sample(benchmark, layouts):
    import rasterio

    def read_all():
        for path in layouts["tiffs"]:
            with rasterio.open(path) as src:
                src.read()

    benchmark.pedantic(read_all, rounds=1, iterations=1, warmup_rounds=0)
    RESULTS["GeoTIFF per sample"] = {"rate": len(layouts["tiffs"]) / benchmark.stats.stats.median,
                                     "bytes": layouts["tiff_bytes"]}


@pytest.mark.parametrize("layout", [layout[0] for layout in LAYOUTS])
def test_layout(layout, layouts):
    import tensorstore as ts

    path = layouts[layout]
    arr = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path / "patches") + "/"}}, read=True).result()
    rng = np.random.default_rng(1)
    order = rng.permutation(N)
    results = {"bytes": _du(path), "write": layouts[f"{layout} write"]}
    for mode in ("sequential", "random"):
        best = 0.0
        for _ in range(3):
            t0 = time.perf_counter()
            for start in range(0, N, BATCH):
                if mode == "sequential":
                    got = arr[start:start + BATCH].read().result()
                else:
                    got = arr[np.sort(order[start:start + BATCH])].read().result()
            best = max(best, N / (time.perf_counter() - t0))
        results[mode] = best
    np.testing.assert_array_equal(got, layouts["patches"][np.sort(order[N - BATCH:])])
    one = np.sort(order[:2000])
    t0 = time.perf_counter()
    for row in one:
        arr[int(row)].read().result()
    results["single"] = len(one) / (time.perf_counter() - t0)
    RESULTS[layout] = results


def test_production_store_matches_the_chosen_layout(tmp_path):
    builder = StoreBuilder(tmp_path / "s.zarr", n_samples=600, dataset_name="b", dataset_version="1", is_synthetic=True, provenance={})
    builder.declare_scene("s0")
    builder.write_patches(0, np.zeros((600, schema.N_FEATURES, 33, 33), np.float32))
    builder.set_samples({"sample_id": np.arange(600), "fold": np.zeros(600, int), "glacier": np.zeros(600, int),
                         "region": np.zeros(600, int), "sensor": np.zeros(600, int), "scene": np.zeros(600, int),
                         "date": np.zeros(600, int), "row": np.zeros(600, int), "col": np.zeros(600, int),
                         "x": np.zeros(600), "y": np.zeros(600)})
    builder.set_labels(np.zeros(600, np.int8))
    store = builder.finish()
    assert store.patches.shards[0] == PATCH_SHARD and store.patches.chunks[0] == 1
    blosc = next(c for c in store.patches.metadata.to_dict()["codecs"][0]["configuration"]["codecs"] if c["name"] == "blosc")
    assert (blosc["configuration"]["cname"], blosc["configuration"]["clevel"], blosc["configuration"]["shuffle"]) == ("lz4hc", 3, "shuffle")


def test_layout_report():
    base = RESULTS.get("GeoTIFF per sample")
    if base is None or len(RESULTS) < 2:
        pytest.skip("run the whole module to compare")
    lines = [f"GeoTIFF per sample: {base['rate']:,.0f} patches/s, {base['bytes'] / 1e6:.1f} MB"]
    for name, r in RESULTS.items():
        if name == "GeoTIFF per sample":
            continue
        lines.append(f"{name}: {r['bytes'] / 1e6:.1f} MB, written {r['write']:,.0f}/s; sequential {r['sequential']:,.0f}/s ({r['sequential'] / base['rate']:.0f}x), "
                     f"random 512-batches {r['random']:,.0f}/s ({r['random'] / base['rate']:.0f}x), "
                     f"single rows {r['single']:,.0f}/s ({r['single'] / base['rate']:.1f}x)")
    print(f"\n{N} patches, TensorStore reads, ratios against GeoTIFF per sample in this run\n" + "\n".join(lines))
