"""The Hub's benchmark metadata: ``eval.yaml`` for the dataset repository, and result files for models.

The Hub turns a dataset repository into a *benchmark* when its root holds an ``eval.yaml``
(``name``, ``description``, ``evaluation_framework`` and a list of ``tasks`` with ``id``,
``config`` and ``split``; see https://huggingface.co/docs/hub/eval-results).  Model repositories
then report scores in ``.eval_results/*.yaml`` files, each naming the benchmark dataset, a task
id and a value; ``huggingface_hub`` writes those with :class:`~huggingface_hub.EvalResultEntry`
and :func:`~huggingface_hub.eval_result_entries_to_yaml`.

The benchmark has one task per training label variant (``facies_raw``: models trained on the
raw labels; ``facies_cleaned``: on the default cleaned variant).  Both are scored by the same main
metric, macro-F1 (in %) on the unpruned test labels under protocol ``schema.PROTOCOL_VERSION``.
The framework key ``facies-bench`` must be registered with the Hub (``EVALUATION_FRAMEWORKS`` in
huggingface.js) before the Hub accepts the file as a benchmark definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from facies_bench import schema
from facies_bench.evaluation.metric_table import MAIN_METRIC, get_metric
from facies_bench.leaderboard.results import Board
from facies_bench.leaderboard.scoring import MAIN_SCORING, rank_entries

EVALUATION_FRAMEWORK = "facies-bench"
#: Task ids of the benchmark, by the label variant the models were trained on.
TASKS = {
    "raw": "facies_raw",
    "cleaned": "facies_cleaned",
}


def task_id(variant: str, default_cleaned: str | None = None) -> str:
    """Task id of a board's training variant (any cleaned variant other than the default gets its own id)."""
    if variant == "raw":
        return TASKS["raw"]
    if default_cleaned is None or variant == default_cleaned or variant == "cleaned":
        return TASKS["cleaned"]
    return f"facies_{schema.slug(variant)}"


def benchmark_eval_yaml() -> dict[str, Any]:
    """The ``eval.yaml`` content as a dict.

    Configs and splits follow ``facies-bench data export-hf``: one config per label variant
    (``raw``, ``cleaned``) and one split per glacier fold (``fold_0`` ... ``fold_5``).  Every fold is
    the test split once, so ``split`` names the first and ``splits`` lists all six.
    """
    folds = [f"fold_{k}" for k in range(schema.N_FOLDS)]
    classes = ", ".join(schema.CLASS_NAMES)
    main = get_metric(MAIN_METRIC)
    metric = {"name": main.key, "display_name": f"{main.title} (%)", "scoring": "unpruned test labels",
              "higher_is_better": main.higher_is_better, "main": True}
    common = (f"8-class glacier facies classification of 33x33 multi-feature patches ({classes}) under the facies-bench "
              f"protocol {schema.PROTOCOL_VERSION}: six glacier-wise folds, test fold k validated on fold (k-1) mod 6, "
              "predictions for every sample out-of-sample. Score: macro-F1 (%) on the unpruned (raw) test labels, "
              "recomputed by `facies-bench leaderboard add` from the submitted predictions.")
    return {
        "name": "Glacier facies classification (facies-bench)",
        "description": ("Benchmark of the pan-European glacier facies dataset (Maslov et al.): per-pixel classification of "
                        f"{schema.N_CLASSES} glacier facies and miscellaneous classes from optical, topographic and geometric "
                        f"features. Protocol version {schema.PROTOCOL_VERSION}; main metric macro-F1 on the unpruned test "
                        "labels with 95 % glacier-bootstrap intervals. Evaluate with `facies-bench evaluate MODEL.py`."),
        "evaluation_framework": EVALUATION_FRAMEWORK,
        "tasks": [
            {"id": TASKS["raw"], "config": "raw", "split": folds[0], "splits": list(folds),
             "description": "Models trained and validated on the raw labels. " + common, "metrics": [dict(metric)]},
            {"id": TASKS["cleaned"], "config": "cleaned", "split": folds[0], "splits": list(folds),
             "description": "Models trained and validated on the default cleaned (confident-learning) labels. " + common,
             "metrics": [dict(metric)]},
        ],
        "protocol_version": schema.PROTOCOL_VERSION,
        "classes": list(schema.CLASS_NAMES),
    }


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def eval_result_files(boards: Sequence[Board], *, dataset_repo: str, include_synthetic: bool = False,
                      source_url: str | None = None) -> dict[str, str]:
    """``.eval_results`` YAML for every entry: ``{relative path: text}``.

    Each file holds the entry's main score (macro-F1 in %, seed mean) for the benchmark dataset
    ``dataset_repo``; a model's authors copy it into their model repository's ``.eval_results/``.
    Entries of synthetic datasets are skipped unless ``include_synthetic`` (their scores say
    nothing about the real benchmark).
    """
    from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml

    files: dict[str, str] = {}
    for board in boards:
        if board.is_synthetic and not include_synthetic:
            continue
        for ranked in rank_entries(board.entries):
            if ranked.score is None:
                continue
            entry = ranked.entry
            seeds = len(entry.seeds)
            notes = (f"facies-bench protocol {entry.info.get('protocol_version')}, dataset {board.dataset} "
                     f"{board.dataset_version}, feature set {entry.feature_set or 'custom'}, trained on '{board.variant}' "
                     f"labels, mean of {seeds} seed{'s' if seeds != 1 else ''}, rank {ranked.rank_label}")
            result = EvalResultEntry(dataset_id=dataset_repo, task_id=task_id(board.variant),
                                     value=round(100 * ranked.score, 2), date=entry.info.get("created"),
                                     source_url=source_url, source_name="facies-bench leaderboard" if source_url else None,
                                     notes=notes)
            files[f"eval_results/{board.board_id}/{entry.entry_id}.yaml"] = dump_yaml(eval_result_entries_to_yaml([result]))
    return files


__all__ = ["EVALUATION_FRAMEWORK", "MAIN_METRIC", "MAIN_SCORING", "TASKS", "benchmark_eval_yaml", "eval_result_files", "task_id"]
