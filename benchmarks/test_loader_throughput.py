"""Every read path of the store against one GeoTIFF per sample, measured in the same run.

Run explicitly (skipped without ``--benchmark-enable``, as CI runs pytest)::

    nice -n 5 python -m pytest benchmarks/test_loader_throughput.py --benchmark-enable -q -s

Store: ``$FACIES_BENCH_BENCH_STORE`` if set (e.g. the scale-1 synthetic store), else a fake store of
``$FACIES_BENCH_BENCH_ROWS`` rows (default 20,000) written with the production StoreBuilder, with
8-bit-quantised reflectance-like values so compression behaves like real data.  The comparison:
``GEOTIFFS`` of the store's own patches written as single 11-band 33x33 float32 GeoTIFFs and read
with rasterio (how the published release is read).  Cases, all over folds 1-4 (a protocol
training split) and all 11 features:

* ``hf_dataloader_shuffled``: ``load_dataset(...)["train"].shuffle(seed).with_format("torch")``
  through a torch ``DataLoader`` (batch 256) — the interface the README shows first (the split's
  features decode each batch of rows in one store read);
* ``hf_dataloader_{fork,spawn}_workers``: the same through ``DataLoader(..., num_workers=2)`` with
  ``fork`` / ``spawn`` workers, in a fresh process (as a training script is; this one already runs
  TensorStore), timed after the first batches (worker start-up excluded);
* ``hf_batched_shuffled``: the same rows through :func:`facies_bench.data.hf.patch_batches`
  (one store read per batch, no per-row dicts);
* ``torch_random``: ``make_dataloader(..., shuffle=True, order="random")`` (fully random rows, one
  store read per batch);
* ``torch_random_default_collate``: ``DataLoader(FaciesTorchDataset, batch_size=512, shuffle=True)``
  (the same rows through torch's default collation of per-sample dicts);
* ``torch_windowed``: ``make_dataloader(..., shuffle=True)`` (shard-windowed shuffle);
* ``sequential``: ``store.read_patches`` over consecutive 512-row slices;
* ``sequential_hand_decoded``: the same slices decoded from the shard files by hand (numcodecs'
  blosc, crc32c checked), an experiment measuring TensorStore's own overhead;
* ``fold_cache_fill``: :class:`FoldCache` loading the four folds;
* ``zarr_python_random``: random 512-row batches read through zarr-python instead of TensorStore.

Both sides are read from the page cache (the store's files are read once first; set
``FACIES_BENCH_BENCH_WARM=0`` to skip that).  Each rate is the best of its rounds (the first
round of a case includes opening the store in that reader).  ``test_report_ratios`` prints each
rate, its ratio to the GeoTIFF reads of the run and the load average.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from facies_bench import schema
from facies_bench.data.store import StoreBuilder, open_store

BATCH = 512
HF_BATCH = 256
BATCHES = int(os.environ.get("FACIES_BENCH_BENCH_BATCHES", "20"))
GEOTIFFS = int(os.environ.get("FACIES_BENCH_BENCH_GEOTIFFS", "4096"))
TRAIN_FOLDS = [1, 2, 3, 4]
RESULTS: dict[str, float] = {}


def build_fake_store(path: Path, n: int, *, seed: int = 0, random_patches: bool = True):
    """A store of ``n`` rows over all six folds (one scene id per glacier, no scene rasters).

    ``random_patches=False`` writes zero patches (fast; enough to time opening, which reads metadata only).
    """
    rng = np.random.default_rng(seed)
    glaciers = list(schema.GLACIERS)
    fold_of = {g.name: i % schema.N_FOLDS for i, g in enumerate(glaciers)}
    order = sorted(glaciers, key=lambda g: (fold_of[g.name], g.index))
    per = np.full(len(order), n // len(order))
    per[: n % len(order)] += 1
    gl = np.repeat(np.arange(len(order)), per)
    builder = StoreBuilder(path, n_samples=n, dataset_name="bench-fake", dataset_version="1", is_synthetic=True,
                           provenance={"generator": "benchmarks/test_loader_throughput.py"}, overwrite=True)
    with builder:
        for g in order:
            builder.declare_scene(f"{schema.slug(g.name)}_20200815")
        for start in range(0, n, 4096):
            m = min(4096, n - start)
            shape = (m, schema.N_FEATURES, 33, 33)
            block = (rng.integers(0, 256, shape, dtype=np.uint8).astype(np.float32) / 255 if random_patches
                     else np.zeros(shape, np.float32))
            builder.write_patches(start, block)
        builder.set_samples({
            "sample_id": np.arange(n), "fold": [fold_of[order[i].name] for i in gl], "glacier": [order[i].name for i in gl],
            "region": [order[i].region for i in gl], "sensor": ["Sentinel-2"] * n, "scene": gl, "date": ["2020-08-15"] * n,
            "row": np.full(n, -1), "col": np.full(n, -1), "x": np.zeros(n), "y": np.zeros(n)})
        builder.set_labels(rng.integers(0, schema.N_CLASSES, n).astype(np.int8))
        return builder.finish()


pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def store(request, tmp_path_factory):
    if request.config.getoption("benchmark_disable", False) and not request.config.getoption("benchmark_enable", False):
        pytest.skip("a benchmark: run with --benchmark-enable")
    given = os.environ.get("FACIES_BENCH_BENCH_STORE")
    if given:
        return open_store(given)
    n = int(os.environ.get("FACIES_BENCH_BENCH_ROWS", "20000"))
    return build_fake_store(tmp_path_factory.mktemp("bench") / "fake.zarr", n)


@pytest.fixture(scope="module", autouse=True)
def warm_page_cache(store):
    """Read the store's files once, so that the store, like the just-written GeoTIFFs, is read
    from the page cache (as from the second epoch of a training run); decoding is still timed."""
    if os.environ.get("FACIES_BENCH_BENCH_WARM", "1") == "0":
        return
    for path in sorted(Path(store.path).rglob("*")):
        if path.is_file() and "scenes" not in path.parts:
            with open(path, "rb") as fh:
                while fh.read(1 << 24):
                    pass


@pytest.fixture(scope="module")
def tiffs(store, tmp_path_factory):
    """``GEOTIFFS`` random training patches of the store as single GeoTIFFs (the comparison)."""
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    folder = tmp_path_factory.mktemp("tiffs")
    rows = np.concatenate([np.arange(store.fold_rows(k).start, store.fold_rows(k).stop) for k in TRAIN_FOLDS])
    rows = np.sort(np.random.default_rng(0).choice(rows, min(GEOTIFFS, len(rows)), replace=False))
    paths = []
    for i, patch in zip(rows, store.read_patches(rows), strict=True):
        path = folder / f"{i:07d}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=33, height=33, count=schema.N_FEATURES, dtype="float32",
                           crs="EPSG:32632", transform=from_origin(0, 0, 10, 10)) as dst:
            dst.write(patch)
        paths.append(path)
    np.random.default_rng(1).shuffle(paths)
    return paths


def _record(name: str, n_patches: int, seconds: float) -> None:
    RESULTS[name] = n_patches / seconds


def _time(fn, rounds: int = 2) -> tuple[int, float]:
    """(patches, best seconds) over ``rounds`` calls of ``fn`` (which returns its patch count)."""
    best, n = float("inf"), 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - t0)
    return n, best


def _count(batches, limit: int = BATCHES) -> int:
    n = 0
    for i, batch in enumerate(batches):
        n += len(batch["label"])
        if i + 1 == limit:
            break
    return n


def test_geotiff_per_sample(tiffs):
    import rasterio

    def read_all():
        for path in tiffs:
            with rasterio.open(path) as src:
                src.read()
        return len(tiffs)

    _record("geotiff_per_sample", *_time(read_all, rounds=1))


def test_hf_dataloader_shuffled(store):
    from torch.utils.data import DataLoader

    from facies_bench.data.hf import load_dataset

    train = load_dataset(store=store.path, test_fold=0)["train"].shuffle(seed=0).with_format("torch")
    loader = DataLoader(train, batch_size=HF_BATCH)
    _record("hf_dataloader_shuffled", *_time(lambda: _count(loader, BATCHES * BATCH // HF_BATCH)))


_WORKERS_SCRIPT = """
import sys, time
from torch.utils.data import DataLoader
from facies_bench.data.hf import load_dataset

if __name__ == "__main__":
    path, context, batch, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    train = load_dataset(store=path, test_fold=0)["train"].shuffle(seed=0).with_format("torch")
    batches = iter(DataLoader(train, batch_size=batch, num_workers=2, multiprocessing_context=context))
    for _ in range(4):  # workers started and reading
        next(batches)
    t0, got = time.perf_counter(), 0
    for _ in range(n):
        got += len(next(batches)["label"])
    print(got, time.perf_counter() - t0)
"""


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_hf_dataloader_workers(store, tmp_path, context):
    import subprocess
    import sys

    script = tmp_path / "workers.py"
    script.write_text(_WORKERS_SCRIPT)
    n = BATCHES * BATCH // HF_BATCH
    run = subprocess.run([sys.executable, str(script), store.path, context, str(HF_BATCH), str(n)],
                         capture_output=True, text=True, timeout=1200, check=True)
    got, seconds = run.stdout.split()[-2:]
    _record(f"hf_dataloader_{context}_workers", int(got), float(seconds))


def test_hf_batched_shuffled(store):
    from facies_bench.data.hf import load_dataset, patch_batches

    train = load_dataset(store=store.path, test_fold=0)["train"].shuffle(seed=0)
    _record("hf_batched_shuffled", *_time(lambda: _count(patch_batches(train, batch_size=BATCH))))


def test_torch_random(store):
    from facies_bench.data.torch_dataset import FaciesTorchDataset, make_dataloader

    loader = make_dataloader(FaciesTorchDataset(store.path, folds=TRAIN_FOLDS), batch_size=BATCH, shuffle=True, seed=0,
                             order="random")
    _record("torch_random", *_time(lambda: _count(loader)))


def test_torch_random_default_collate(store):
    from torch.utils.data import DataLoader

    from facies_bench.data.torch_dataset import FaciesTorchDataset

    loader = DataLoader(FaciesTorchDataset(store.path, folds=TRAIN_FOLDS), batch_size=BATCH, shuffle=True)
    _record("torch_random_default_collate", *_time(lambda: _count(loader)))


def test_torch_windowed(store):
    from facies_bench.data.torch_dataset import FaciesTorchDataset, make_dataloader

    loader = make_dataloader(FaciesTorchDataset(store.path, folds=TRAIN_FOLDS), batch_size=BATCH, shuffle=True, seed=0)
    _record("torch_windowed", *_time(lambda: _count(loader)))


def test_sequential(store):
    rows = store.fold_rows(1)

    def read():
        n = 0
        for start in range(rows.start, min(rows.stop, rows.start + BATCHES * BATCH), BATCH):
            n += len(store.read_patches(slice(start, min(start + BATCH, rows.stop))))
        return n

    _record("sequential", *_time(read))


def _read_shards_by_hand(store, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` decoded from whole shard files with numcodecs' blosc, crc32c checked.

    An experiment, not a read path: it assumes the production layout (one patch per inner chunk,
    blosc then crc32c, the shard index at the end) and a local store.
    """
    import google_crc32c
    import numcodecs.blosc

    block = store.patch_block
    out = np.empty((stop - start, schema.N_FEATURES, 33, 33), np.float32)
    for shard in range(start // block, (stop - 1) // block + 1):
        data = (Path(store.path) / "patches" / "c" / str(shard) / "0" / "0" / "0").read_bytes()
        n = min(block, store.n_samples - shard * block)
        index = np.frombuffer(data, "<u8", count=2 * block, offset=len(data) - 16 * block - 4).reshape(block, 2)
        view = memoryview(data)
        for i in range(max(start, shard * block) - shard * block, min(stop - shard * block, n)):
            offset, length = int(index[i, 0]), int(index[i, 1])
            chunk = view[offset:offset + length - 4]
            if google_crc32c.value(bytes(chunk)) != int.from_bytes(view[offset + length - 4:offset + length], "little"):
                raise ValueError(f"crc32c mismatch in shard {shard}, inner chunk {i}")
            numcodecs.blosc.decompress(chunk, out[shard * block + i - start])
    return out


def test_sequential_hand_decoded(store):
    """The same slices as ``sequential``, decoded by hand: what TensorStore's own overhead costs."""
    pytest.importorskip("google_crc32c")
    rows = store.fold_rows(1)
    first = slice(rows.start, min(rows.start + BATCH, rows.stop))
    np.testing.assert_array_equal(_read_shards_by_hand(store, first.start, first.stop), store.read_patches(first))

    def read():
        n = 0
        for start in range(rows.start, min(rows.stop, rows.start + BATCHES * BATCH), BATCH):
            n += len(_read_shards_by_hand(store, start, min(start + BATCH, rows.stop)))
        return n

    _record("sequential_hand_decoded", *_time(read))


def test_fold_cache_fill(store):
    from facies_bench.data.torch_dataset import FoldCache

    def fill():
        cache = FoldCache(store.path)
        return sum(len(cache.fold(k)) for k in TRAIN_FOLDS)

    _record("fold_cache_fill", *_time(fill, rounds=1))


def test_zarr_python_random(store):
    from facies_bench.data.store import _read_rows

    rows = np.concatenate([np.arange(store.fold_rows(k).start, store.fold_rows(k).stop) for k in TRAIN_FOLDS])
    order = np.random.default_rng(2).permutation(rows)
    arr = store.patches

    def read():
        n = 0
        for i in range(BATCHES):
            n += len(_read_rows(arr, np.sort(order[i * BATCH:(i + 1) * BATCH])))
        return n

    _record("zarr_python_random", *_time(read, rounds=1))


def test_report_ratios(store):
    base = RESULTS.get("geotiff_per_sample")
    if base is None or len(RESULTS) < 2:
        pytest.skip("run the whole module to compare")
    lines = [f"{name}: {rate:,.0f} patches/s = {rate / base:.1f}x GeoTIFF per sample" for name, rate in RESULTS.items()]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nstore {store.path} ({store.n_samples} rows, PATCH_SHARD={store.patch_block}), load average {load}\n"
          + "\n".join(lines))
