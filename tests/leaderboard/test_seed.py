"""Seeding the board through the real protocol runner: its result.json passes the validator."""

from __future__ import annotations

from pathlib import Path

import pytest

from facies_bench.errors import ValidationError
from facies_bench.leaderboard import load_boards
from facies_bench.leaderboard.seed import DEFAULT_BASELINES, seed_leaderboard

SUBMISSION = Path(__file__).parent / "data" / "centroid_submission.py"


def test_real_protocol_run_is_accepted(lb_store, tmp_path):
    events = []
    outcome = seed_leaderboard(tmp_path / "results", store=lb_store, runs_dir=tmp_path / "runs", baselines=[SUBMISSION],
                               variants=("raw",), on_event=events.append)
    (entry,) = outcome.added
    assert entry.model_name == "lb_test_centroid" and entry.board == "glacier_facies_tiny--tiny_0--raw"
    assert entry.info["cleaned_variant"] == "cl_test"  # raw runs are also scored on the store's default cleaned labels
    assert entry.metrics["cleaned"]["mean"]["macro_f1"] is not None
    assert any("added" in e for e in events)


@pytest.mark.slow
def test_seed_raw_and_cleaned_then_rerun_skips(lb_store, tmp_path):
    kwargs = dict(store=lb_store, runs_dir=tmp_path / "runs", baselines=[SUBMISSION])
    first = seed_leaderboard(tmp_path / "results", **kwargs)
    assert len(first.added) == 2
    assert [b.variant for b in load_boards(tmp_path / "results")] == ["raw", "cl_test"]
    again = seed_leaderboard(tmp_path / "results", **kwargs)
    assert again.added == [] and len(again.skipped) == 2


def test_missing_cleaned_variant_or_baseline_is_a_clear_error(tiny_store, tmp_path):
    with pytest.raises(ValidationError, match="facies-bench clean"):
        seed_leaderboard(tmp_path / "results", store=tiny_store, runs_dir=tmp_path / "runs", baselines=[SUBMISSION])
    with pytest.raises(ValidationError, match="not found"):
        seed_leaderboard(tmp_path / "results", store=tiny_store, runs_dir=tmp_path / "runs", baselines=[tmp_path / "none.py"])


def test_default_baselines_are_every_file_in_baselines():
    files = sorted((Path(__file__).resolve().parents[2] / "baselines").glob("*.py"))
    assert files and list(DEFAULT_BASELINES) == files
    assert {p.stem for p in DEFAULT_BASELINES} >= {"paper_cnn", "timm_backbone", "hgb_centre_pixel"}  # the paper's three
