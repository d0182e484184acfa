"""``glacier-facies`` resolution: ``data.cache`` opens what is cached, ``default_dataset`` also builds it."""

from __future__ import annotations

import shutil

import pytest

import facies_bench
from facies_bench import default_dataset
from facies_bench.data import cache
from facies_bench.errors import DatasetNotFoundError, InvalidValueError


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FACIES_BENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture()
def fake_generator(tiny_store_path, monkeypatch):
    """``synth.generate_store`` replaced by a copy of the tiny store; records its calls."""
    import facies_bench.synth

    calls = []

    def generate_store(path, *, scale, seed, progress=None):
        from facies_bench.data.store import open_store

        calls.append((path, scale, seed))
        shutil.copytree(tiny_store_path, path)
        return open_store(path)

    monkeypatch.setattr(facies_bench.synth, "generate_store", generate_store)
    return calls


def test_public_names_point_to_the_default_dataset_module():
    assert facies_bench.resolve_store is default_dataset.resolve_store
    assert facies_bench.load_dataset is default_dataset.load_dataset


def test_open_cached_store_builds_nothing(home):
    with pytest.raises(DatasetNotFoundError, match="has not been built yet"):
        cache.open_cached_store(None, quick=True)
    assert not cache.synthetic_store_path(cache.QUICK_SCALE).exists()


def test_resolve_store_builds_the_synthetic_store_once(home, fake_generator):
    first = default_dataset.resolve_store(None, quick=True)
    assert fake_generator == [(cache.synthetic_store_path(cache.QUICK_SCALE), cache.QUICK_SCALE, cache.DEFAULT_SEED)]
    again = default_dataset.resolve_store("glacier-facies", quick=True)
    assert len(fake_generator) == 1
    assert again.path == first.path == str(cache.synthetic_store_path(cache.QUICK_SCALE))
    assert cache.open_cached_store(None, quick=True).path == first.path


def test_converted_release_in_the_cache_wins(home, tiny_store_path, fake_generator):
    shutil.copytree(tiny_store_path, cache.real_store_path())
    assert default_dataset.resolve_store().path == str(cache.real_store_path())
    assert default_dataset.resolve_store(quick=True).path == str(cache.synthetic_store_path(cache.QUICK_SCALE))
    assert len(fake_generator) == 1


def test_given_stores_are_opened_as_they_are(tiny_store_path, tiny_store, fake_generator):
    assert default_dataset.resolve_store(tiny_store) is tiny_store
    assert default_dataset.resolve_store(tiny_store_path).content_hash == tiny_store.content_hash
    assert not fake_generator


def test_invalid_scale_is_refused(home, fake_generator):
    with pytest.raises(InvalidValueError, match="scale must be positive"):
        default_dataset.resolve_store(scale=0)
    assert not fake_generator


def test_load_dataset_builds_the_embedded_dataset_first(home, fake_generator):
    pytest.importorskip("datasets")
    dd = facies_bench.load_dataset(test_fold=0, features=1)
    assert dd.facies_store["path"] == str(cache.synthetic_store_path(1.0))
    assert set(dd) == {"train", "validation", "test"}
    assert len(fake_generator) == 1
