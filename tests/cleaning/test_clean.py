"""Confident-learning cleaning: protected classes, raw labels untouched, provenance, refusals."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from facies_bench import schema
from facies_bench.cleaning import clean_run, find_facies_label_issues, noise_recovery
from facies_bench.data.store import open_store
from facies_bench.errors import FaciesBenchError, IncompleteRunError, ValidationError


def _fake_raw_run(run_dir, store, *, folds=range(6), seed=0, store_hash=None, variant="raw", confuse_protected=True):
    """A finished raw run whose predictions know the true class (so CL can find the flipped labels)."""
    rng = np.random.default_rng(seed)
    true = store.true_labels()
    meta = store.metadata()
    probs = rng.dirichlet(np.ones(schema.N_CLASSES) * 0.3, size=len(true)) * 0.2
    probs[np.arange(len(true)), true] += 0.8
    if confuse_protected:  # protected-class samples predicted as something else: CL would flag them
        prot = np.isin(true, [schema.class_index(c) for c in schema.NEVER_PRUNED])
        probs[prot] = np.roll(probs[prot], 1, axis=1)
    probs /= probs.sum(axis=1, keepdims=True)
    frame = pd.DataFrame(probs, columns=list(schema.PROBABILITY_COLUMNS))
    frame.insert(0, "sample_id", meta["sample_id"].to_numpy())
    frame.insert(1, "fold", meta["fold"].to_numpy())
    frame = frame[frame["fold"].isin(list(folds))]
    (run_dir / "predictions").mkdir(parents=True)
    frame.to_parquet(run_dir / "predictions" / "seed0.parquet", index=False)
    result = {"schema_version": 1, "protocol_version": schema.PROTOCOL_VERSION, "variant": variant,
              "model": {"name": "oracle_test"}, "store": {"name": store.name, "content_hash": store_hash or store.content_hash},
              "folds": list(folds), "seeds": [0], "feature_set": 4,
              "predictions": {"0": {"path": "predictions/seed0.parquet"}}}
    (run_dir / "result.json").write_text(json.dumps(result))
    return run_dir


def test_protected_classes_never_pruned():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, 400)
    probs = rng.dirichlet(np.ones(8), size=400)  # uninformative: many issues everywhere
    issues, conf = find_facies_label_issues(labels, probs)
    assert issues.any()
    protected = np.isin(labels, [schema.class_index(c) for c in schema.NEVER_PRUNED])
    assert not issues[protected].any()
    np.testing.assert_allclose(conf, probs[np.arange(400), labels])


def test_clean_writes_variant_with_provenance(tiny_store_copy, tmp_path):
    store = open_store(tiny_store_copy)
    raw_before = store.labels("raw").copy()
    run = _fake_raw_run(tmp_path / "run", store)
    result = clean_run(run, tiny_store_copy, "cl_oracle")
    again = open_store(tiny_store_copy)
    np.testing.assert_array_equal(again.labels("raw"), raw_before)
    cleaned = again.labels("cleaned")
    assert again.default_cleaned == "cl_oracle"
    pruned = cleaned == schema.PRUNED
    assert pruned.sum() == result.summary["pruned"] > 0
    np.testing.assert_array_equal(cleaned[~pruned], raw_before[~pruned])
    protected = np.isin(raw_before, [schema.class_index(c) for c in schema.NEVER_PRUNED])
    assert not pruned[protected].any()
    info = again.variant_info("cl_oracle")
    assert info["run"]["model"] == "oracle_test" and len(info["run"]["result_sha256"]) == 64
    assert info["cleanlab_settings"]["filter_by"] == "confident_learning" and info["cleanlab_version"]
    # noise recovery well above chance: the oracle predictions know every flipped label
    nr = result.noise_recovery["overall"]
    assert nr["recall"] > 0.8 and nr["precision"] > 3 * nr["base_rate"]
    review = pd.read_csv(result.report_dir / "review.csv")
    assert len(review) == pruned.sum()
    assert review["self_confidence"].is_monotonic_increasing
    assert set(review["given_label"]) <= set(schema.CLASS_NAMES)
    assert "Pruned, %" in (result.report_dir / "cleaning.md").read_text()


def test_cleaned_variant_loads_through_store_metadata(tiny_store_copy, tmp_path):
    store = open_store(tiny_store_copy)
    clean_run(_fake_raw_run(tmp_path / "run", store), tiny_store_copy, "cl_a")
    meta = open_store(tiny_store_copy).metadata("cleaned")
    assert (meta["label"] == schema.PRUNED).sum() > 0


def test_refuses_overwrite_unless_asked(tiny_store_copy, tmp_path):
    store = open_store(tiny_store_copy)
    run = _fake_raw_run(tmp_path / "run", store)
    clean_run(run, tiny_store_copy, "cl_a")
    with pytest.raises(FaciesBenchError, match="already exists"):
        clean_run(run, tiny_store_copy, "cl_a")
    clean_run(run, tiny_store_copy, "cl_a", overwrite=True)
    assert open_store(tiny_store_copy).variants == ("raw", "cl_a")


def test_missing_folds_refused(tiny_store_copy, tmp_path):
    store = open_store(tiny_store_copy)
    run = _fake_raw_run(tmp_path / "run", store, folds=range(5))
    with pytest.raises(IncompleteRunError, match=r"lacks test folds \[5\]"):
        clean_run(run, tiny_store_copy, "cl_a")
    assert open_store(tiny_store_copy).variants == ("raw",)


def test_other_store_refused(tiny_store_copy, tmp_path):
    store = open_store(tiny_store_copy)
    run = _fake_raw_run(tmp_path / "run", store, store_hash="blake2b:0000")
    with pytest.raises(ValidationError, match="hash"):
        clean_run(run, tiny_store_copy, "cl_a")
    assert open_store(tiny_store_copy).variants == ("raw",)


def test_cleaned_run_refused(tiny_store_copy, tmp_path):
    store = open_store(tiny_store_copy)
    run = _fake_raw_run(tmp_path / "run", store, variant="cl_x")
    with pytest.raises(ValidationError, match="raw-label run"):
        clean_run(run, tiny_store_copy, "cl_a")


def test_read_only_store_left_unchanged(tiny_store_copy, tmp_path, monkeypatch):
    store = open_store(tiny_store_copy)
    run = _fake_raw_run(tmp_path / "run", store)
    before = sorted(p.relative_to(tiny_store_copy) for p in tiny_store_copy.rglob("*"))
    # CI runs as root, which ignores permission bits: report the store's directory as unwritable.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(tiny_store_copy) else real_access(p, m))
    with pytest.raises(FaciesBenchError, match="not writable"):
        clean_run(run, tiny_store_copy, "cl_a")
    assert sorted(p.relative_to(tiny_store_copy) for p in tiny_store_copy.rglob("*")) == before


def test_noise_recovery_counts():
    raw = np.array([0, 0, 1, 1, 3])
    true = np.array([0, 3, 1, 0, 3])
    issues = np.array([False, True, True, True, False])
    nr = noise_recovery(raw, true, issues)
    assert nr["overall"]["hits"] == 2 and nr["overall"]["precision"] == pytest.approx(2 / 3) and nr["overall"]["recall"] == 1.0
    assert nr["per_class"]["snow"]["precision"] == 0.5
