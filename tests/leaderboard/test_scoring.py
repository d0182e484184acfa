"""Ranking by unpruned macro-F1 with ties within the bootstrap interval marked."""

from __future__ import annotations

from dataclasses import dataclass, field

from facies_bench.leaderboard import load_boards, rank_entries
from facies_bench.leaderboard.table import MAIN_COLUMNS, board_rows


@dataclass
class FakeEntry:
    model_name: str
    score: float | None
    ci: tuple[float, float] | None
    entry_id: str = "x"
    metrics: dict = field(default_factory=dict)

    def __post_init__(self):
        self.entry_id = self.model_name
        mean = {"macro_f1": self.score, "macro_f1_ci": list(self.ci) if self.ci else None}
        self.metrics = {"unpruned": {"mean": mean}}


def _labels(entries):
    return [(r.entry.model_name, r.rank_label) for r in rank_entries(entries)]


def test_overlapping_intervals_share_the_rank_above():
    entries = [FakeEntry("c", 0.70, (0.66, 0.74)), FakeEntry("a", 0.90, (0.88, 0.92)), FakeEntry("b", 0.80, (0.78, 0.82)),
               FakeEntry("d", 0.68, (0.60, 0.71))]
    assert _labels(entries) == [("a", "1"), ("b", "2"), ("c", "3="), ("d", "3=")]


def test_separate_intervals_are_not_tied_and_ranks_skip_after_ties():
    entries = [FakeEntry("a", 0.90, (0.85, 0.95)), FakeEntry("b", 0.88, (0.84, 0.91)), FakeEntry("c", 0.70, (0.65, 0.75))]
    assert _labels(entries) == [("a", "1="), ("b", "1="), ("c", "3")]


def test_chains_of_overlap_stay_tied_and_missing_scores_go_last():
    entries = [FakeEntry("a", 0.90, (0.86, 0.93)), FakeEntry("b", 0.85, (0.80, 0.87)), FakeEntry("c", 0.79, (0.75, 0.81)),
               FakeEntry("z", None, None)]
    assert _labels(entries) == [("a", "1="), ("b", "1="), ("c", "1="), ("z", "4")]


def test_fixture_board_marks_the_statistical_tie(board_results):
    raw = next(b for b in load_boards(board_results) if b.variant == "raw")
    ranked = rank_entries(raw.entries)
    assert [r.entry.model_name for r in ranked] == ["alpha_net", "beta_net", "gamma_hgb"]
    assert [r.rank_label for r in ranked] == ["1=", "1=", "3"]
    rows = board_rows(ranked)
    assert rows[0]["rank"].text == "1="
    assert rows[1]["seeds"].text == "2"
    main = rows[1][MAIN_COLUMNS[0]].text
    assert "±" in main and "[" in main
    assert rows[0]["params"].text == "1.2 M"
    assert rows[2]["features"].text == "FS3"
