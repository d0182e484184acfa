"""``leaderboard/README.md``: every board's ranked table and its per-class, region and sensor breakdowns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from facies_bench import schema
from facies_bench.evaluation.metric_table import MAIN_METRIC, get_metric
from facies_bench.leaderboard.results import Board
from facies_bench.leaderboard.scoring import rank_entries
from facies_bench.leaderboard.table import COLUMNS, board_rows, class_breakdown, group_breakdown, pct

SUBMIT_STEPS = (
    "Write a submission file that registers one model (see `submissions/` and `facies-bench check MODEL.py`).",
    "Run the full protocol on the board's dataset: `facies-bench evaluate MODEL.py --features 4 --seeds 3 -o runs/my_model` "
    "(add `--variant cleaned` for the cleaned board).",
    "Validate and add the run: `facies-bench leaderboard add runs/my_model` (every metric is recomputed from the predictions; "
    "edited numbers are rejected).",
    "Rebuild the pages with `facies-bench leaderboard build` and open a pull request with the new `leaderboard/results/` folder.",
)


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, align: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table; ``align`` holds ``l``/``r`` per column."""
    align = align or ["l"] * len(header)
    lines = ["| " + " | ".join(_escape(h) for h in header) + " |",
             "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _ranked_table(board: Board) -> str:
    ranked = rank_entries(board.entries)
    rows = board_rows(ranked)
    align = ["l" if not c.numeric or c.key == "rank" else "r" for c in COLUMNS]
    return markdown_table([c.title for c in COLUMNS], [[row[c.key].text for c in COLUMNS] for row in rows], align=align)


def _breakdowns(board: Board) -> str:
    ranked = rank_entries(board.entries)
    parts = []
    header = ["Model"] + list(schema.CLASS_NAMES)
    rows = []
    main = get_metric(MAIN_METRIC)
    for r in ranked:
        per_class = {row["class"]: row.get(main.per_class or "") for row in class_breakdown(r.entry)}
        rows.append([r.entry.model_name + f" ({r.rank_label})"] + [pct(per_class.get(c)) for c in schema.CLASS_NAMES])
    parts.append(f"#### Per-class {main.per_class_title} (%), unpruned\n\n"
                 + markdown_table(header, rows, align=["l"] + ["r"] * schema.N_CLASSES))
    for group, title in (("by_region", "Per-region"), ("by_sensor", "Per-sensor")):
        names: list[str] = []
        counts: dict[str, int | None] = {}
        values: list[tuple[str, dict[str, float | None]]] = []
        for r in ranked:
            cells = group_breakdown(r.entry, group)
            for cell in cells:
                if cell["name"] not in names:
                    names.append(cell["name"])
                    counts[cell["name"]] = cell["n"]
            values.append((r.entry.model_name + f" ({r.rank_label})", {c["name"]: c[main.key] for c in cells}))
        if not names:
            continue
        head = ["Model"] + [f"{n} (n={counts[n]})" if counts[n] is not None else n for n in names]
        body = [[label] + [pct(v.get(n)) for n in names] for label, v in values]
        parts.append(f"#### {title} {main.title} (%), unpruned\n\n" + markdown_table(head, body, align=["l"] + ["r"] * len(names)))
    return "\n\n".join(parts)


def render_markdown(boards: Sequence[Board], *, generated: str, page_url: str | None = None) -> str:
    """The whole ``README.md`` (without any Hub front matter).

    Args:
        boards: boards to show, in order.
        generated: build timestamp shown on the page.
        page_url: optional link to the interactive page.
    """
    out = [
        "# Glacier facies classification leaderboard",
        "",
        f"Benchmark of the pan-European glacier facies dataset (Maslov et al.), protocol version "
        f"**{schema.PROTOCOL_VERSION}**: six glacier-wise folds, every sample predicted by a model that never saw its glacier. "
        "Ranked by macro-F1 on the unpruned test labels (the paper's fair comparison, Table 4); every number below was "
        "recomputed by the standard evaluator from the submitted predictions. Intervals are 95 % bootstrap intervals "
        "resampling glaciers; a rank marked `=` has an interval overlapping its neighbour's. Values are percentages.",
        "",
        f"Generated {generated}." + (f" Interactive version: [{page_url}]({page_url})." if page_url else " Interactive version: `index.html`."),
        "",
    ]
    if not boards:
        out += ["No entries yet. See *How to submit* below.", ""]
    for board in boards:
        out += [
            f"## {board.title}",
            "",
            f"Dataset `{board.dataset}` version `{board.dataset_version}`, content hash `{board.content_hash}`; "
            f"models trained and validated on the `{board.variant}` labels. {len(board.entries)} entr"
            f"{'y' if len(board.entries) == 1 else 'ies'}.",
            "",
            _ranked_table(board),
            "",
            "<details><summary>Column definitions</summary>",
            "",
        ]
        out += [f"- **{c.title}**: {c.help}" for c in COLUMNS]
        out += ["", "</details>", "", _breakdowns(board), ""]
    out += ["## How to submit", ""]
    out += [f"{i}. {step}" for i, step in enumerate(SUBMIT_STEPS, 1)]
    out += ["", f"Runs must use protocol version {schema.PROTOCOL_VERSION}, all six folds, and the board's exact dataset "
            "(name, version and content hash).", ""]
    return "\n".join(out)
