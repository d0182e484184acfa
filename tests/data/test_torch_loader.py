"""facies_bench.data.torch_dataset: dict samples, chunk-aligned shuffled batches, cache, workers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from facies_bench import schema  # noqa: E402
from facies_bench.data.store import open_store  # noqa: E402
from facies_bench.data.torch_dataset import FaciesBatchIterable, FaciesTorchDataset, FoldCache, make_dataloader  # noqa: E402

KEYS = {"patch", "label", "sample_id", "glacier", "region", "sensor", "scene_id", "date", "fold"}


def test_samples_match_the_store(tiny_store):
    ds = FaciesTorchDataset(tiny_store, folds=[2, 5], features=2)
    rows = np.r_[np.arange(tiny_store.fold_rows(2).start, tiny_store.fold_rows(2).stop),
                 np.arange(tiny_store.fold_rows(5).start, tiny_store.fold_rows(5).stop)]
    assert len(ds) == len(rows)
    meta = tiny_store.metadata("raw")
    s = ds[7]
    assert set(s) == KEYS
    assert s["patch"].shape == (8, 33, 33) and s["patch"].dtype == torch.float32
    np.testing.assert_array_equal(s["patch"].numpy(), tiny_store.read_patches(rows[[7]], features=2)[0])
    for c in ("glacier", "region", "sensor", "scene_id", "date"):
        assert s[c] == meta[c].iloc[rows[7]]
    assert s["sample_id"] == meta["sample_id"].iloc[rows[7]] and s["fold"] == meta["fold"].iloc[rows[7]]
    assert int(s["label"]) == meta["label"].iloc[rows[7]]
    # map-style DataLoader uses __getitems__ (one batched read) and default collation
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=10, shuffle=True, generator=torch.Generator().manual_seed(0))))
    assert batch["patch"].shape == (10, 8, 33, 33)
    r = rows[np.searchsorted(tiny_store.column("sample_id")[rows], batch["sample_id"].numpy())]
    np.testing.assert_array_equal(batch["patch"].numpy(), tiny_store.read_patches(r, features=2))


@pytest.mark.parametrize("cache,order", [(False, "windowed"), (True, "windowed"), (False, "random")])
def test_shuffled_epochs_cover_every_sample_once(tiny_store, cache, order):
    ds = FaciesTorchDataset(tiny_store, folds=[0, 1, 3], cache=cache or None)
    loader = make_dataloader(ds, batch_size=64, shuffle=True, seed=1, order=order)
    epochs = []
    for _ in range(2):
        ids, n_full = [], 0
        for b in loader:
            assert set(b) == KEYS
            rows = np.searchsorted(tiny_store.column("sample_id"), b["sample_id"].numpy())
            np.testing.assert_array_equal(b["patch"].numpy(), tiny_store.read_patches(rows))
            np.testing.assert_array_equal(b["label"].numpy(), tiny_store.labels("raw")[rows])
            ids += b["sample_id"].tolist()
            n_full += len(b["label"]) == 64
        assert sorted(ids) == sorted(ds.sample_ids.tolist())
        assert n_full >= len(ds) // 64
        epochs.append(ids)
    assert epochs[0] != epochs[1]  # reshuffled each epoch
    assert epochs[0] != sorted(epochs[0])


def test_unshuffled_batches_are_in_store_order_and_drop_last(tiny_store):
    ds = FaciesTorchDataset(tiny_store, folds=[4])
    batches = list(make_dataloader(ds, batch_size=40))
    ids = np.concatenate([b["sample_id"].numpy() for b in batches])
    np.testing.assert_array_equal(ids, ds.sample_ids)
    assert len(list(make_dataloader(ds, batch_size=40, drop_last=True))) == len(ds) // 40
    assert len(FaciesBatchIterable(ds, batch_size=40)) == -(-len(ds) // 40)


def test_chunk_aligned_windows_read_each_chunk_once(tiny_store):
    ds = FaciesTorchDataset(tiny_store)
    it = FaciesBatchIterable(ds, batch_size=32, shuffle=True, window_chunks=2)
    windows = it.windows(epoch=0)
    chunks = [np.unique(ds.rows[w] // ds.chunk_size) for w in windows]
    flat = np.concatenate(chunks)
    assert len(flat) == len(np.unique(flat))  # no chunk in two windows
    assert all(len(c) <= 2 for c in chunks)
    assert sorted(np.concatenate(windows).tolist()) == list(range(len(ds)))


def test_variant_drops_pruned_and_fold_cache_is_shared(tiny_store_copy):
    store = open_store(tiny_store_copy, mode="r+")
    labels = store.labels("raw").copy()
    labels[::3] = schema.PRUNED
    store.write_label_variant("cl_t", labels, {"method": "test"})
    cache = FoldCache(store, features=4)
    a = FaciesTorchDataset(store, folds=[0, 1], variant="cleaned", features=4, cache=cache)
    b = FaciesTorchDataset(store, folds=[1, 2], variant="cl_t", features=4, cache=cache)
    assert (a.labels >= 0).all() and len(a) == (labels[: store.fold_rows(1).stop] >= 0).sum()
    a.to_arrays()
    arrays = b.to_arrays()
    np.testing.assert_array_equal(arrays["patches"], store.read_patches(b.rows))
    assert sorted(cache._folds) == [0, 1, 2]  # fold 1 loaded once, used by both
    np.testing.assert_array_equal(FaciesTorchDataset(store, folds=[1, 2], variant="cl_t").to_arrays()["patches"], arrays["patches"])
    with pytest.raises(ValueError, match="num_workers=0"):
        make_dataloader(a, num_workers=2)


@pytest.mark.parametrize("context,order", [("fork", "windowed"), ("fork", "random"),
                                           pytest.param("spawn", "random", marks=pytest.mark.slow)])
def test_worker_processes(tiny_store_path, context, order):
    FaciesTorchDataset(tiny_store_path, folds=[1]).read_patches(np.arange(3))  # TensorStore used before the fork
    loader = make_dataloader(tiny_store_path, folds=[1], batch_size=16, shuffle=True, num_workers=2,
                             multiprocessing_context=context, order=order)
    # TensorStore runs here, so fork workers could not use it: they start from a forkserver
    assert loader.multiprocessing_context.get_start_method() == ("forkserver" if context == "fork" else context)
    for _ in range(2):
        ids = [i for b in loader for i in b["sample_id"].tolist()]
        assert sorted(ids) == sorted(FaciesTorchDataset(tiny_store_path, folds=[1]).sample_ids.tolist())


def test_random_order_reads_every_row_with_its_patch(tiny_store):
    ds = FaciesTorchDataset(tiny_store, folds=[2, 5])
    batches = list(make_dataloader(ds, batch_size=50, shuffle=True, seed=4, order="random", drop_last=True))
    assert len(batches) == len(ds) // 50
    for b in batches:
        rows = np.searchsorted(tiny_store.column("sample_id"), b["sample_id"].numpy())
        np.testing.assert_array_equal(b["patch"].numpy(), tiny_store.read_patches(rows))
    with pytest.raises(ValueError, match="order"):
        make_dataloader(ds, order="sideways")


_WORKER_SCRIPT = textwrap.dedent("""
    import json, os, sys
    from torch.utils.data import DataLoader, default_collate
    from facies_bench.data import store as store_module
    from facies_bench.data.hf import load_dataset
    from facies_bench.data.torch_dataset import FaciesBatchIterable, FaciesTorchDataset

    def reads_through_tensorstore():
        return store_module._TENSORSTORE_PID == os.getpid()

    def collate_rows(samples):
        return default_collate(samples), reads_through_tensorstore()

    def keep_batch(batch):
        return batch, reads_through_tensorstore()

    if __name__ == "__main__":
        path, context = sys.argv[1], sys.argv[2]
        hf = load_dataset(store=path, test_fold=0)["train"].shuffle(seed=0).with_format("torch")
        ds = FaciesTorchDataset(path, folds=[1])
        loaders = {
            "hf": DataLoader(hf, batch_size=32, num_workers=2, multiprocessing_context=context, collate_fn=collate_rows),
            "torch": DataLoader(FaciesBatchIterable(ds, batch_size=16, shuffle=True, order="random"), batch_size=None,
                                num_workers=2, multiprocessing_context=context, collate_fn=keep_batch),
        }
        out = {"parent_started_tensorstore": store_module._TENSORSTORE_PID is not None}
        for name, loader in loaders.items():
            batches = list(loader)
            out[name] = {"tensorstore": [ts for _, ts in batches],
                         "sample_ids": sorted(i for b, _ in batches for i in b["sample_id"].tolist())}
        print(json.dumps(out))
""")


@pytest.mark.parametrize("context", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])
def test_workers_read_through_their_own_tensorstore(tiny_store_path, tiny_store, tmp_path, context):
    """Fork and spawn workers of the HF and torch loaders each open TensorStore (a fresh process,
    as a training script is: this test process already runs TensorStore, so it cannot fork one)."""
    script = tmp_path / "workers.py"
    script.write_text(_WORKER_SCRIPT)
    run = subprocess.run([sys.executable, str(script), str(tiny_store_path), context], capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["parent_started_tensorstore"] is False  # building the datasets read no patches
    train_ids = np.concatenate([tiny_store.column("sample_id")[tiny_store.fold_rows(k)] for k in schema.train_folds(0)])
    assert out["hf"]["sample_ids"] == sorted(train_ids.tolist())
    assert out["torch"]["sample_ids"] == sorted(tiny_store.column("sample_id")[tiny_store.fold_rows(1)].tolist())
    for name in ("hf", "torch"):
        assert out[name]["tensorstore"] and all(out[name]["tensorstore"]), name
