"""``facies-bench leaderboard build``: the pages and the Hub metadata from ``results/``.

Writes into the output folder (by default ``leaderboard/``, next to ``leaderboard/results/``):
``README.md`` (the ranked tables and breakdowns, with the front matter of a static Hugging Face
Space), ``index.html`` (the self-contained interactive page), ``leaderboard.json`` (the ranked
boards, machine-readable), ``eval.yaml`` (the Hub's benchmark definition) and, given the dataset
repository, ``eval_results/<board>/<entry>.yaml`` for model repositories.  Every file is written
to a temporary sibling and renamed into place.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facies_bench import schema
from facies_bench.atomic import atomic_write_text
from facies_bench.errors import InvalidValueError
from facies_bench.evaluation.metric_table import MAIN_METRIC
from facies_bench.leaderboard.eval_yaml import (
    benchmark_eval_yaml,
    dump_yaml,
    eval_result_files,
)
from facies_bench.leaderboard.paths import DEFAULT_OUTPUT_DIR
from facies_bench.leaderboard.render_html import render_html
from facies_bench.leaderboard.render_md import render_markdown
from facies_bench.leaderboard.results import Board, load_boards
from facies_bench.leaderboard.scoring import MAIN_SCORING, rank_entries

SPACE_FRONT_MATTER = {
    "title": "Glacier facies leaderboard",
    "emoji": "🧊",
    "colorFrom": "blue",
    "colorTo": "indigo",
    "sdk": "static",
    "app_file": "index.html",
    "pinned": False,
    "license": "mit",
    "short_description": "Glacier facies classification benchmark (facies-bench)",
    "tags": ["leaderboard", "benchmark", "glaciology", "remote-sensing"],
}


@dataclass
class BuildResult:
    """What a build wrote."""

    out_dir: Path
    files: list[Path]
    boards: list[Board]

    @property
    def n_entries(self) -> int:
        """Entries over all boards."""
        return sum(len(b.entries) for b in self.boards)


def _atomic_write(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def _swap_dir(new: Path | None, target: Path) -> None:
    """Replace folder ``target`` by ``new`` (or remove it when ``new`` is None) with renames."""
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    if target.exists():
        os.replace(target, old)
    try:
        if new is not None:
            os.replace(new, target)
    finally:
        shutil.rmtree(old, ignore_errors=True)


def boards_summary(boards: list[Board], *, generated: str) -> dict[str, Any]:
    """The ranked boards as plain data (``leaderboard.json``)."""
    out = []
    for board in boards:
        rows = []
        for ranked in rank_entries(board.entries):
            e = ranked.entry
            rows.append({"rank": ranked.rank, "rank_label": ranked.rank_label, "tied": ranked.tied,
                         "entry_id": e.entry_id, "model": e.model_name, "n_parameters": e.n_parameters,
                         "feature_set": e.feature_set, "seeds": e.seeds, "date": e.date,
                         f"{MAIN_METRIC}_unpruned": ranked.score,
                         f"{MAIN_METRIC}_unpruned_ci": list(ranked.interval) if ranked.interval else None,
                         "metrics": e.metrics, "path": f"results/{board.board_id}/{e.entry_id}"})
        out.append({"id": board.board_id, "dataset": board.dataset, "dataset_version": board.dataset_version,
                    "content_hash": board.content_hash, "is_synthetic": board.is_synthetic, "variant": board.variant,
                    "entries": rows})
    return {"format": "facies-bench-leaderboard", "protocol_version": schema.PROTOCOL_VERSION, "generated": generated,
            "main_metric": f"{MAIN_METRIC} ({MAIN_SCORING})", "boards": out}


def build_leaderboard(results_dir: str | Path, out_dir: str | Path = DEFAULT_OUTPUT_DIR, *, generated: str | None = None,
                      dataset_repo: str | None = None, page_url: str | None = None, include_synthetic_results: bool = False,
                      copy_results: bool = True, plots: bool = True) -> BuildResult:
    """Render every page of the leaderboard.

    Args:
        results_dir: the results folder (``leaderboard/results``).
        out_dir: where the pages go (``leaderboard/``).
        generated: timestamp shown on the pages (default: now, UTC).
        dataset_repo: the benchmark's Hub dataset repository (``OWNER/NAME``); when given,
            ``eval_results/`` files are written for the entries of real-dataset boards.
        page_url: public URL of ``index.html``, linked from README.md.
        include_synthetic_results: also write ``eval_results/`` files for synthetic boards.
        copy_results: when ``results_dir`` is not ``out_dir/results``, copy it there so the built
            folder can be published on its own.
        plots: draw the per-entry figures of index.html (off for a quick preview).

    Returns:
        A :class:`BuildResult`.

    Raises:
        InvalidValueError: ``results_dir`` does not exist or is not a folder.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        what = "is not a folder" if results_dir.exists() else "does not exist"
        msg = (f"No leaderboard results at {str(results_dir)!r}: the path {what}. Pass the results folder that "
               "`facies-bench leaderboard add` writes to (--results; default leaderboard/results).")
        raise InvalidValueError(msg)
    out_dir = Path(out_dir)
    generated = generated or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    boards = load_boards(results_dir)
    written: list[Path] = []

    front = "---\n" + dump_yaml(SPACE_FRONT_MATTER) + "---\n\n"
    pages = {
        "README.md": front + render_markdown(boards, generated=generated, page_url=page_url),
        "index.html": render_html(boards, generated=generated, plots=plots),
        "leaderboard.json": json.dumps(boards_summary(boards, generated=generated), indent=1, allow_nan=False) + "\n",
        "eval.yaml": dump_yaml(benchmark_eval_yaml()),
    }
    for rel, text in pages.items():
        path = out_dir / rel
        _atomic_write(path, text)
        written.append(path)
    # eval_results/ is replaced as a whole, so entries removed from results/ leave no stale file.
    eval_files = eval_result_files(boards, dataset_repo=dataset_repo, include_synthetic=include_synthetic_results,
                                   source_url=page_url) if dataset_repo else {}
    staging = out_dir / f".eval_results.tmp-{uuid.uuid4().hex[:8]}"
    try:
        for rel, text in eval_files.items():
            path = staging / Path(rel).relative_to("eval_results")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(out_dir / rel)
        _swap_dir(staging if eval_files else None, out_dir / "eval_results")
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    target = out_dir / "results"
    if copy_results and results_dir.is_dir() and results_dir.resolve() != target.resolve():
        staging = out_dir / f".results.tmp-{uuid.uuid4().hex[:8]}"
        try:
            shutil.copytree(results_dir, staging, ignore=shutil.ignore_patterns(".*"))
            _swap_dir(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        written.append(target)
    return BuildResult(out_dir=out_dir, files=written, boards=boards)
