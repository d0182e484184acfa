"""facies_bench.data.hf.load_dataset: splits, variants, features, formats, laziness."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")
torch = pytest.importorskip("torch")

from facies_bench import schema  # noqa: E402
from facies_bench.data.hf import FaciesPatch, load_dataset  # noqa: E402
from facies_bench.data.store import open_store  # noqa: E402
from facies_bench.errors import UnknownNameError  # noqa: E402


@pytest.fixture(scope="module")
def folds(tiny_store_path):
    return load_dataset(store=tiny_store_path)


def test_one_split_per_fold_with_every_row_and_column(folds, tiny_store):
    assert list(folds) == [f"fold_{k}" for k in range(6)]
    meta = tiny_store.metadata("raw")
    for k in range(6):
        ds = folds[f"fold_{k}"]
        sl = tiny_store.fold_rows(k)
        assert len(ds) == sl.stop - sl.start
        cols = ds.remove_columns("patch")[:]
        part = meta.iloc[sl]
        assert cols["sample_id"] == part["sample_id"].tolist()
        assert cols["label"] == part["label"].tolist()
        for c in ("glacier", "region", "sensor", "scene_id", "date", "fold"):
            assert cols[c] == part[c].tolist(), c
    assert folds["fold_0"].features["label"].names == list(schema.CLASS_NAMES)
    assert isinstance(folds["fold_0"].features["patch"], FaciesPatch)


def test_patches_are_read_from_the_store(folds, tiny_store):
    ds = folds["fold_3"]
    start = tiny_store.fold_rows(3).start
    row = ds[5]
    assert row["patch"].dtype == np.float32 and row["patch"].shape == (11, 33, 33)
    np.testing.assert_array_equal(row["patch"], tiny_store.read_patches(np.array([start + 5]))[0])
    sliced = ds[2:7]["patch"]
    np.testing.assert_array_equal(np.stack(sliced), tiny_store.read_patches(slice(start + 2, start + 7)))
    # mutating a returned patch does not change what is read next time
    row["patch"][:] = -1
    np.testing.assert_array_equal(ds[5]["patch"], tiny_store.read_patches(np.array([start + 5]))[0])


def test_metadata_only_in_arrow_no_patch_copy(folds):
    ds = folds["fold_0"]
    assert ds.cache_files == []  # in memory, nothing written to disk
    assert ds.data.schema.field("patch").type == "int64"  # row references, not patches
    assert ds.data.nbytes < 200 * len(ds)  # a few small columns, far below 47,916 bytes per patch


def test_torch_and_numpy_formats_and_shuffle(folds, tiny_store):
    ds = folds["fold_1"]
    shuffled = ds.shuffle(seed=3)
    assert shuffled["sample_id"] != ds["sample_id"]
    t = shuffled.with_format("torch")
    batch = t[0:16]
    assert batch["patch"].shape == (16, 11, 33, 33) and batch["patch"].dtype == torch.float32
    assert batch["label"].dtype == torch.int64
    ids = batch["sample_id"].numpy()
    rows = np.searchsorted(tiny_store.column("sample_id"), ids)
    np.testing.assert_array_equal(batch["patch"].numpy(), tiny_store.read_patches(rows))
    np.testing.assert_array_equal(batch["label"].numpy(), tiny_store.labels("raw")[rows])
    assert isinstance(batch["glacier"], list) and isinstance(batch["glacier"][0], str)
    n = shuffled.with_format("numpy")
    assert n[0:4]["patch"].shape == (4, 11, 33, 33) and n[3]["patch"].dtype == np.float32
    first = next(iter(t))
    assert first["patch"].shape == (11, 33, 33)
    assert int(first["sample_id"]) == int(ids[0])
    it = list(shuffled.select(range(8)).with_format("torch").iter(batch_size=4))
    assert len(it) == 2 and it[1]["patch"].shape == (4, 11, 33, 33)
    loader = torch.utils.data.DataLoader(t, batch_size=8)
    assert next(iter(loader))["patch"].shape == (8, 11, 33, 33)


def test_set_transform_receives_decoded_patches(tiny_store_path):
    ds = load_dataset(store=tiny_store_path)["fold_0"]
    ds.set_transform(lambda b: {"mean": [float(np.mean(p)) for p in b["patch"]]})
    out = ds[0:3]
    assert len(out["mean"]) == 3 and all(np.isfinite(out["mean"]))


@pytest.mark.parametrize("features,expected", [
    (1, schema.FEATURE_SETS[1]), (3, schema.FEATURE_SETS[3]), ("nir,slope", ("nir", "slope")),
    (["proximity", "blue"], ("blue", "proximity")), (None, schema.FEATURE_NAMES)])
def test_feature_selection(tiny_store_path, tiny_store, features, expected):
    dd = load_dataset(store=tiny_store_path, features=features)
    assert dd.facies_store["features"] == list(expected)
    p = dd["fold_2"].with_format("numpy")[0:3]["patch"]
    start = tiny_store.fold_rows(2).start
    np.testing.assert_array_equal(p, tiny_store.read_patches(slice(start, start + 3), features=list(expected)))


def test_unknown_feature_and_variant_are_clear(tiny_store_path):
    with pytest.raises(UnknownNameError, match="Valid"):
        load_dataset(store=tiny_store_path, features=7)
    with pytest.raises(UnknownNameError, match="ndvi"):
        load_dataset(store=tiny_store_path, features=["ndvi"])
    with pytest.raises(UnknownNameError, match="no default 'cleaned'"):
        load_dataset(store=tiny_store_path, variant="cleaned")
    with pytest.raises(UnknownNameError, match="Unknown test fold"):
        load_dataset(store=tiny_store_path, test_fold=6)


@pytest.mark.parametrize("k", range(6))
def test_protocol_splits_never_share_a_glacier(tiny_store_path, tiny_store, k):
    dd = load_dataset(store=tiny_store_path, test_fold=k)
    assert list(dd) == ["train", "validation", "test"]
    folds = {s: set(dd[s]["fold"]) for s in dd}
    assert folds["test"] == {k}
    assert folds["validation"] == {(k - 1) % 6}
    assert folds["train"] == set(schema.train_folds(k))
    glaciers = {s: set(dd[s]["glacier"]) for s in dd}
    assert not glaciers["train"] & glaciers["validation"]
    assert not glaciers["train"] & glaciers["test"]
    assert not glaciers["validation"] & glaciers["test"]
    assert sum(len(d) for d in dd.values()) == tiny_store.n_samples
    assert dd.facies_store["test_fold"] == k


def test_cleaned_variant_drops_pruned_rows(tiny_store_copy):
    store = open_store(tiny_store_copy, mode="r+")
    raw = store.labels("raw")
    cleaned = raw.copy()
    pruned = np.zeros(len(raw), bool)
    pruned[::5] = True
    pruned &= ~np.isin(raw, [schema.class_index(c) for c in schema.NEVER_PRUNED])
    cleaned[pruned] = schema.PRUNED
    cleaned[1] = (raw[1] + 1) % 4  # a relabelled sample keeps its new label
    store.write_label_variant("cl_test", cleaned, {"method": "test"})
    for variant in ("cleaned", "cl_test"):
        dd = load_dataset(store=tiny_store_copy, variant=variant)
        assert dd["fold_0"].info.config_name == "cl_test"
        ids = np.concatenate([d["sample_id"] for d in dd.values()])
        labels = np.concatenate([d["label"] for d in dd.values()])
        keep = ~pruned
        np.testing.assert_array_equal(np.sort(ids), np.sort(store.column("sample_id")[keep]))
        order = np.argsort(ids)
        np.testing.assert_array_equal(labels[order], cleaned[keep][np.argsort(store.column("sample_id")[keep])])
    raw_dd = load_dataset(store=tiny_store_copy, variant="raw")
    assert sum(len(d) for d in raw_dd.values()) == store.n_samples


def test_result_says_which_dataset(folds, tiny_store):
    info = folds["fold_0"].info
    assert "synthetic stand-in" in info.description
    assert tiny_store.content_hash in info.description
    assert info.config_name == "raw" and info.dataset_name == tiny_store.name
    assert folds.facies_store["content_hash"] == tiny_store.content_hash
    assert folds.facies_store["is_synthetic"] is True


def test_default_name_resolves_through_the_cache(tiny_store_path, tmp_path, monkeypatch):
    from facies_bench.data import cache

    monkeypatch.setenv("FACIES_BENCH_HOME", str(tmp_path))
    shutil.copytree(tiny_store_path, cache.real_store_path())
    dd = load_dataset()
    assert dd.facies_store["path"] == str(cache.real_store_path())
    assert len(dd["fold_0"][0:2]["patch"]) == 2


def test_fsspec_url(tiny_store_path):
    dd = load_dataset(f"file://{tiny_store_path}", features=1)
    assert dd["fold_4"].with_format("numpy")[0:2]["patch"].shape == (2, 6, 33, 33)


def test_changed_store_is_refused(tiny_store_copy):
    from facies_bench.data import hf
    from facies_bench.errors import StoreFormatError

    dd = load_dataset(store=tiny_store_copy)
    feat = dd["fold_0"].features["patch"]
    stale = FaciesPatch(store=feat.store, content_hash="blake2b:0", features=feat.features)
    hf._READERS.clear()
    with pytest.raises(StoreFormatError, match="changed since"):
        stale.decode_example(0)


def test_patch_batches_read_each_batch_in_one_call(tiny_store_path, tiny_store):
    from facies_bench.data.hf import patch_batches

    train = load_dataset(store=tiny_store_path, test_fold=0, features=2)["train"].shuffle(seed=3)
    batches = list(patch_batches(train, batch_size=100))
    assert sum(len(b["label"]) for b in batches) == len(train)
    first = batches[0]
    rows = np.asarray(train.with_format("arrow")[:100].column("patch"))
    np.testing.assert_array_equal(first["patch"].numpy(), tiny_store.read_patches(rows, features=2))
    assert first["patch"].shape[1] == len(schema.FEATURE_SETS[2])
    assert first["label"].tolist() == train[:100]["label"]
    assert first["glacier"] == train[:100]["glacier"]
    with pytest.raises(TypeError, match="load_dataset"):
        next(patch_batches(datasets.Dataset.from_dict({"patch": [1, 2]})))


def test_torch_dataloader_decodes_each_batch_in_one_read(tiny_store_path, tiny_store, monkeypatch):
    from facies_bench.data import hf

    calls = {"rows": 0, "row": 0}
    read_rows, read_row = hf._ChunkReader.read_rows, hf._ChunkReader.read_row

    def count_rows(self, rows):
        calls["rows"] += 1
        return read_rows(self, rows)

    def count_row(self, row):
        calls["row"] += 1
        return read_row(self, row)

    monkeypatch.setattr(hf._ChunkReader, "read_rows", count_rows)
    monkeypatch.setattr(hf._ChunkReader, "read_row", count_row)
    train = load_dataset(store=tiny_store_path, test_fold=0)["train"].shuffle(seed=5).with_format("torch")
    batches = list(torch.utils.data.DataLoader(train, batch_size=50))
    assert calls == {"rows": len(batches), "row": 0}  # one store read per batch, none per row
    assert sum(len(b["label"]) for b in batches) == len(train)
    ids = torch.cat([b["sample_id"] for b in batches]).numpy()
    rows = np.searchsorted(tiny_store.column("sample_id"), ids)
    np.testing.assert_array_equal(torch.cat([b["patch"] for b in batches]).numpy(), tiny_store.read_patches(rows))
    np.testing.assert_array_equal(torch.cat([b["label"] for b in batches]).numpy(), tiny_store.labels("raw")[rows])
    assert batches[0]["patch"].shape == (50, 11, 33, 33) and batches[0]["patch"].dtype == torch.float32
    assert isinstance(batches[0]["glacier"], list) and isinstance(batches[0]["glacier"][0], str)
    # a single row still decodes on its own
    calls.update(rows=0, row=0)
    assert train[3]["patch"].shape == (11, 33, 33) and calls == {"rows": 0, "row": 1}


def test_batched_decoding_survives_dataset_operations(folds, tiny_store):
    import copy
    import pickle

    ds = folds["fold_2"]
    start = tiny_store.fold_rows(2).start
    derived = {
        "shuffle": ds.shuffle(seed=1), "select": ds.select([4, 1, 7]), "torch": ds.shuffle(seed=2).with_format("torch"),
        "numpy": ds.with_format("numpy"), "split": ds.train_test_split(test_size=0.25, seed=0)["train"],
        "filter": ds.filter(lambda label: label < 4, input_columns=["label"]),
        "pickle": pickle.loads(pickle.dumps(ds.shuffle(seed=3))), "deepcopy": copy.deepcopy(ds),
        "remove_columns": ds.remove_columns(["glacier"]),
    }
    for name, d in derived.items():
        assert type(d.features).__name__ == "FaciesFeatures", name
        out = d[0:3]
        rows = start + np.searchsorted(tiny_store.column("sample_id")[start:], np.asarray(out["sample_id"]))
        np.testing.assert_array_equal(np.stack([np.asarray(p) for p in out["patch"]]), tiny_store.read_patches(rows), err_msg=name)
    # the python format keeps a list of patches, array formats one stacked array
    assert isinstance(ds[0:3]["patch"], list) and ds.with_format("numpy")[0:3]["patch"].shape == (3, 11, 33, 33)
    # operations that rebuild the features from scratch still decode (row by row)
    renamed = ds.rename_column("label", "y")
    np.testing.assert_array_equal(np.stack(renamed[0:2]["patch"]), tiny_store.read_patches(slice(start, start + 2)))


def test_patch_feature_is_registered_with_datasets(folds):
    """Uses the public ``register_feature``: a change in ``datasets`` that breaks it fails here."""
    features = folds["fold_0"].features
    rebuilt = datasets.Features.from_dict(features.to_dict())
    assert isinstance(rebuilt["patch"], FaciesPatch) and rebuilt["patch"] == features["patch"]
    assert datasets.Features.from_arrow_schema(features.arrow_schema)["patch"] == features["patch"]


def test_batched_decode_of_a_row_outside_the_store_names_it(folds, tiny_store_path):
    import re

    feature = folds["fold_0"].features["patch"]
    with pytest.raises(IndexError, match=re.escape(str(tiny_store_path))):
        feature.decode_batch(np.array([0, 10**6]))
    with pytest.raises(IndexError, match=re.escape(str(tiny_store_path))):
        feature.decode_example(10**6)
