"""Adding entries: what is stored, boards, duplicates, and atomicity."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from facies_bench import schema
from facies_bench.errors import ValidationError
from facies_bench.leaderboard import add_entry, load_boards, rank_entries
from facies_bench.leaderboard import results as results_module
from facies_bench.leaderboard.results import DuplicateEntryError, load_entries


def _snapshot(root):
    return sorted((p.relative_to(root).as_posix(), p.stat().st_size) for p in root.rglob("*")) if root.exists() else []


def test_good_run_is_accepted_stored_and_ranked(good_run, lb_store, tmp_path, board_results):
    results = tmp_path / "results"
    shutil.copytree(board_results, results)
    entry = add_entry(good_run, results, lb_store, added="2026-03-01T00:00:00+00:00")
    assert entry.board == "glacier_facies_tiny--tiny_0--raw"
    assert entry.entry_id.startswith("good_model-fs4-")
    files = {p.relative_to(entry.path).as_posix() for p in entry.path.rglob("*") if p.is_file()}
    assert files == {"entry.json", "result.json", "predictions/seed0.parquet", "validation_predictions/seed0.parquet",
                     "reports/seed0/unpruned.json", "reports/seed0/cleaned.json"}
    assert (entry.path / "result.json").read_bytes() == (good_run / "result.json").read_bytes()
    meta = pq.ParquetFile(entry.path / "predictions" / "seed0.parquet")
    assert meta.schema_arrow.field("p_ice").type == "float"
    assert meta.metadata.row_group(0).column(1).compression == "ZSTD"
    assert meta.metadata.num_rows == lb_store.n_samples
    # The recomputed metrics are stored, and each file's hash is recorded.
    assert entry.metrics["unpruned"]["mean"]["macro_f1"] > 0.7
    assert entry.info["cleaned_variant"] == "cl_test"
    assert entry.info["files"]["result.json"]["size"] == (good_run / "result.json").stat().st_size
    # Ranked among the board's entries by unpruned macro-F1.
    board = next(b for b in load_boards(results) if b.board_id == entry.board)
    ranked = rank_entries(board.entries)
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert entry.entry_id in [r.entry.entry_id for r in ranked]


def test_compact_predictions_still_score_the_same(good_run, lb_store, tmp_path):
    from facies_bench.evaluation import evaluate_predictions

    entry = add_entry(good_run, tmp_path / "results", lb_store)
    report = evaluate_predictions(entry.path / "predictions" / "seed0.parquet", lb_store, variant="raw",
                                  validation_predictions=entry.path / "validation_predictions" / "seed0.parquet", seed=0)
    assert report.to_dict()["overall"]["macro_f1"] == pytest.approx(entry.metrics["unpruned"]["mean"]["macro_f1"], abs=1e-9)


def test_boards_per_dataset_and_variant(board_results):
    boards = load_boards(board_results)
    assert [(b.variant, len(b.entries)) for b in boards] == [("raw", 3), ("cl_test", 1)]
    assert all(b.dataset == "glacier-facies-tiny" and b.is_synthetic for b in boards)


def test_duplicate_entry_is_refused_and_nothing_changes(good_run, lb_store, tmp_path):
    results = tmp_path / "results"
    add_entry(good_run, results, lb_store)
    before = _snapshot(results)
    with pytest.raises(DuplicateEntryError, match="already on board"):
        add_entry(good_run, results, lb_store)
    assert _snapshot(results) == before


def test_failure_midway_leaves_results_unchanged(good_run, lb_store, tmp_path, board_results, monkeypatch):
    results = tmp_path / "results"
    shutil.copytree(board_results, results)
    before = _snapshot(results)

    def explode(staging, run):
        assert (staging / "predictions" / "seed0.parquet").is_file()  # really midway: files already written
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(results_module, "_write_reports", explode)
    with pytest.raises(OSError, match="simulated"):
        add_entry(good_run, results, lb_store)
    assert _snapshot(results) == before
    assert len(load_entries(results)) == 4


def test_failure_on_a_new_board_leaves_no_board_folder(good_run, lb_store, tmp_path, monkeypatch):
    results = tmp_path / "results"
    results.mkdir()

    def explode(*args, **kwargs):
        raise RuntimeError("rename failed (simulated)")
    monkeypatch.setattr(results_module, "_rename", explode)
    with pytest.raises(RuntimeError, match="simulated"):
        add_entry(good_run, results, lb_store)
    assert list(results.iterdir()) == []


def test_rejected_run_leaves_results_unchanged(good_run, lb_store, tmp_path, board_results):
    results = tmp_path / "results"
    shutil.copytree(board_results, results)
    before = _snapshot(results)
    data = json.loads((good_run / "result.json").read_text())
    data["metrics"]["unpruned"]["mean"]["accuracy"] = 0.99
    (good_run / "result.json").write_text(json.dumps(data))
    with pytest.raises(ValidationError):
        add_entry(good_run, results, lb_store)
    assert _snapshot(results) == before


def test_entry_metrics_hold_every_summary_key(board_results):
    from facies_bench.leaderboard.submission import SUMMARY_KEYS

    for entry in load_entries(board_results):
        mean = entry.metrics["unpruned"]["mean"]
        assert set(SUMMARY_KEYS) <= set(mean)
        assert set(mean["per_class_f1"]) == set(schema.CLASS_KEYS)
        assert np.isfinite(mean["macro_f1"])
