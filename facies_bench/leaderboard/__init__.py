"""The leaderboard: validated results, ranked boards, static pages and publishing to the Hub.

Public API::

    add_entry(run_dir, results_dir, store) -> Entry        validate a protocol run and add it
    validate_run(run_dir, store) -> ValidatedRun            the checks alone (nothing written)
    load_boards(results_dir) -> list[Board]                 entries grouped per dataset and variant
    rank_entries(entries) -> list[RankedEntry]              macro-F1 (unpruned) ranks with ties
    build_leaderboard(results_dir, out_dir) -> BuildResult  README.md, index.html, eval.yaml, ...
    publish(built_dir, repo_id, repo_type, token, dry_run)  one commit to the Hugging Face Hub
"""

from facies_bench.leaderboard.build import BuildResult, build_leaderboard
from facies_bench.leaderboard.publish import PublishPlan, format_plan, publish
from facies_bench.leaderboard.results import Board, Entry, add_entry, board_id, load_boards, load_entries
from facies_bench.leaderboard.scoring import RankedEntry, rank_entries
from facies_bench.leaderboard.submission import ValidatedRun, validate_run

__all__ = [
    "Board", "BuildResult", "Entry", "PublishPlan", "RankedEntry", "ValidatedRun", "add_entry", "board_id",
    "build_leaderboard", "format_plan", "load_boards", "load_entries", "publish", "rank_entries", "validate_run",
]
