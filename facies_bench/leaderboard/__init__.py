"""The leaderboard: validated results, ranked boards, static pages and publishing to the Hub.

Public API::

    add_entry(run_dir, results_dir, store) -> Entry        validate a protocol run and add it
    validate_run(run_dir, store) -> ValidatedRun            the checks alone (nothing written)
    load_boards(results_dir) -> list[Board]                 entries grouped per dataset and variant
    rank_entries(entries) -> list[RankedEntry]              macro-F1 (unpruned) ranks with ties
    build_leaderboard(results_dir, out_dir) -> BuildResult  README.md, index.html, eval.yaml, ...
    publish(built_dir, repo_id, repo_type, token, dry_run)  one commit to the Hugging Face Hub
"""

from importlib import import_module

# ``publish`` is both a submodule and its main function: bind the function eagerly (the module is
# light) so that importing the submodule can never shadow it.
from facies_bench.leaderboard.publish import PublishPlan, format_plan, publish

# Imported on first use so that the CLI's start-up does not pay for pandas and the evaluator.
_LAZY = {
    "BuildResult": "build", "build_leaderboard": "build", "Board": "results", "Entry": "results",
    "add_entry": "results", "board_id": "results", "load_boards": "results", "load_entries": "results", "RankedEntry": "scoring", "rank_entries": "scoring",
    "ValidatedRun": "submission", "validate_run": "submission",
}
__all__ = ["PublishPlan", "format_plan", "publish", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"facies_bench.leaderboard.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'facies_bench.leaderboard' has no attribute {name!r}")
