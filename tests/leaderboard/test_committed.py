"""The leaderboard committed under ``leaderboard/`` still validates and builds with this code.

Its entries were scored by an earlier facies-bench: each stored evaluator report must still give
exactly the recorded metrics, and each submitted result.json must still match them on the keys
of its own summary version.  (The store they ran on is not rebuilt here: the simulator may have
changed since; ``leaderboard add`` checks that part when a run is added.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facies_bench.evaluation.metric_table import SUMMARY_VERSION
from facies_bench.leaderboard import build_leaderboard, load_boards
from facies_bench.leaderboard.results import load_entries
from facies_bench.leaderboard.submission import _comparable, compare_metrics, run_summary_keys, summarise_report

COMMITTED = Path(__file__).resolve().parents[2] / "leaderboard"
ENTRIES = load_entries(COMMITTED / "results") if (COMMITTED / "results").is_dir() else []


def test_the_committed_leaderboard_has_entries():
    if not COMMITTED.is_dir():
        pytest.skip("no committed leaderboard/ in this checkout")
    assert ENTRIES


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e.board}/{e.entry_id}" for e in ENTRIES])
def test_committed_entry_still_validates(entry):
    result = json.loads((entry.path / "result.json").read_text())
    source = str(entry.path / "result.json")
    keys = run_summary_keys(result, source=source)
    version = entry.metrics.get("summary_version", 1)  # the version the leaderboard recomputed with
    assert version <= SUMMARY_VERSION
    for scoring in ("unpruned", "cleaned"):
        recorded = entry.metrics.get(scoring)
        if recorded is None:
            continue
        # The stored reports give the recorded numbers with today's metric table.
        for seed in entry.seeds:
            report = entry.report(seed, scoring)
            compare_metrics({"per_seed": {str(seed): summarise_report(report, version=version)}},
                            {"per_seed": {str(seed): recorded["per_seed"][str(seed)]}},
                            source=str(entry.path), prefix=f"metrics.{scoring}")
        # The submitted numbers equal the leaderboard's on the run's own summary keys.
        if result["metrics"].get(scoring) is not None:
            compare_metrics(_comparable(result["metrics"][scoring]), _comparable(recorded, keys), source=source,
                            prefix=f"metrics.{scoring}")


def test_committed_leaderboard_builds(tmp_path):
    if not ENTRIES:
        pytest.skip("no committed leaderboard/ in this checkout")
    built = build_leaderboard(COMMITTED / "results", tmp_path, generated="test", plots=False, copy_results=False)
    assert built.n_entries == len(ENTRIES) and len(built.boards) == len(load_boards(COMMITTED / "results"))
    readme = (tmp_path / "README.md").read_text()
    assert all(f"| {e.model_name} |" in readme for e in ENTRIES)
