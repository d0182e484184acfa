"""Throughput of the plain torch loader beside the Hugging Face path, on the same store.

Run explicitly::

    python -m pytest benchmarks/test_loader_throughput.py --benchmark-enable -q

Store: ``$FACIES_BENCH_BENCH_STORE`` if set (e.g. the scale-1 synthetic store), else a fake store of
``$FACIES_BENCH_BENCH_ROWS`` rows (default 20,000) written with the production StoreBuilder, with
8-bit-quantised reflectance-like values so compression behaves like real data.  Every case reads
``BATCHES`` shuffled batches of 512 patches (all 11 features) from folds 1-4 (a protocol training
split); ``extra_info["patches_per_s"]`` holds the figure, and ``test_report_ratios`` prints the
ratios against the Hugging Face shuffled path measured in the same run.
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
BATCHES = int(os.environ.get("FACIES_BENCH_BENCH_BATCHES", "20"))
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


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    given = os.environ.get("FACIES_BENCH_BENCH_STORE")
    if given:
        return open_store(given)
    n = int(os.environ.get("FACIES_BENCH_BENCH_ROWS", "20000"))
    return build_fake_store(tmp_path_factory.mktemp("bench") / "fake.zarr", n)


def _record(benchmark, name: str, n_patches: int) -> None:
    rate = n_patches / benchmark.stats.stats.mean
    benchmark.extra_info["patches_per_s"] = round(rate)
    RESULTS[name] = rate


def test_hf_first_open(benchmark, store):
    from facies_bench.data.hf import load_dataset

    dd = benchmark.pedantic(lambda: load_dataset(store=store.path, test_fold=0), rounds=3, iterations=1)
    benchmark.extra_info["rows"] = store.n_samples
    benchmark.extra_info["arrow_bytes_in_memory"] = int(sum(d.data.nbytes for d in dd.values()))
    benchmark.extra_info["cache_files"] = sum(len(d.cache_files) for d in dd.values())


def _count_batches(batches) -> int:
    """Patches in the first ``BATCHES`` batches of a loader or batch iterator."""
    n = 0
    for i, batch in enumerate(batches):
        n += len(batch["label"])
        if i + 1 == BATCHES:
            break
    return n


def test_torch_loader_shuffled(benchmark, store):
    from facies_bench.data.torch_dataset import FaciesTorchDataset, make_dataloader

    loader = make_dataloader(FaciesTorchDataset(store, folds=TRAIN_FOLDS), batch_size=BATCH, shuffle=True, seed=0)

    n = benchmark.pedantic(_count_batches, args=(loader,), rounds=3, iterations=1)
    _record(benchmark, "torch_shuffled", n)


def test_torch_loader_shuffled_fold_cache(benchmark, store):
    from facies_bench.data.torch_dataset import FaciesTorchDataset, make_dataloader

    ds = FaciesTorchDataset(store, folds=TRAIN_FOLDS, cache=True)
    loader = make_dataloader(ds, batch_size=BATCH, shuffle=True, seed=0)
    t0 = time.perf_counter()
    ds.to_arrays()  # fill the cache once, outside the timing
    benchmark.extra_info["cache_fill_s"] = round(time.perf_counter() - t0, 2)

    n = benchmark.pedantic(_count_batches, args=(loader,), rounds=3, iterations=1)
    _record(benchmark, "torch_shuffled_cache", n)


def test_hf_shuffled_torch_format(benchmark, store):
    from facies_bench.data.hf import load_dataset

    train = load_dataset(store=store.path, test_fold=0)["train"].shuffle(seed=0).with_format("torch")

    n = benchmark.pedantic(lambda: _count_batches(train.iter(batch_size=BATCH)), rounds=1, iterations=1)
    _record(benchmark, "hf_shuffled", n)


def test_hf_sequential_torch_format(benchmark, store):
    from facies_bench.data.hf import load_dataset

    train = load_dataset(store=store.path, test_fold=0)["train"].with_format("torch")

    n = benchmark.pedantic(lambda: _count_batches(train.iter(batch_size=BATCH)), rounds=2, iterations=1)
    _record(benchmark, "hf_sequential", n)


def test_report_ratios(store):
    if "hf_shuffled" not in RESULTS:
        pytest.skip("run the whole module to compare")
    base = RESULTS["hf_shuffled"]
    lines = [f"{name}: {rate:,.0f} patches/s = {rate / base:.1f}x HF shuffled" for name, rate in RESULTS.items()]
    print(f"\nstore {store.path} ({store.n_samples} rows)\n" + "\n".join(lines))
