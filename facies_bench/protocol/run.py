"""``run_protocol``: plan the work units of a run, execute them, merge and evaluate.

The merge step runs only when every planned unit is complete; it concatenates the units'
predictions per seed, scores them with the standard evaluator against the raw labels (unpruned)
and, when there is one, the cleaned variant, and writes the leaderboard-ready ``result.json``
(layout in ``docs/contracts.md``).  Every file is written atomically; completed units are never
touched again, so an interrupted or partly failed run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from facies_bench import schema
from facies_bench.data.store import FaciesStore
from facies_bench.errors import IncompleteRunError, SubmissionError, UnknownNameError
from facies_bench.evaluation.metric_table import SUMMARY_VERSION
from facies_bench.protocol._io import RunDir, frame_to_parquet_bytes, is_url
from facies_bench.protocol.config import ProtocolConfig
from facies_bench.protocol.executors import LocalExecutor, ProgressReporter, UnitOutcome, make_executor
from facies_bench.protocol.provenance import describe_hardware, package_version, utc_now
from facies_bench.protocol.splits import check_glacier_folds
from facies_bench.protocol.submitted_model import Submission, load_submission

if TYPE_CHECKING:
    import pandas as pd

    from facies_bench.evaluation.report import EvaluationReport

from facies_bench.protocol.units import (
    UNIT_FILE,
    StoreRef,
    UnitEnvironment,
    WorkUnit,
    is_unit_complete,
    unit_dir,
)

log = logging.getLogger(__name__)

RESULT_SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
PLAN_FILE = "plan.json"


@dataclass
class RunResult:
    """Outcome of :func:`run_protocol`.

    Attributes:
        run_dir: the run directory (path or URL).
        units: every planned unit.
        outcomes: one per unit (``skipped`` for units already complete before this call).
        result: the ``result.json`` content.
        reports: ``{seed: {"unpruned": EvaluationReport, "cleaned": EvaluationReport | None}}``.
    """

    run_dir: str
    units: list[WorkUnit]
    outcomes: list[UnitOutcome]
    result: dict[str, Any]
    reports: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def result_path(self) -> str:
        """Path or URL of the run's ``result.json``."""
        return f"{self.run_dir.rstrip('/')}/{RESULT_FILE}"

    @property
    def n_trained(self) -> int:
        """Units trained by this call."""
        return sum(o.status == "completed" for o in self.outcomes)


def plan_units(submission: Submission, store: FaciesStore, config: ProtocolConfig) -> list[WorkUnit]:
    """The work units of a run: one per (seed, test fold), in seed then fold order."""
    variant = store.resolve_variant(config.variant)
    recipe = config.recipe(submission.entry.recipe).to_dict() if submission.kind == "torch" else None
    return [WorkUnit(submission_sha256=submission.sha256, model_name=submission.model_name, store_hash=store.content_hash,
                     variant=variant, features=config.features, test_fold=k, seed=s, recipe=recipe,
                     variant_fingerprint=store.variant_fingerprint(variant))
            for s in config.seeds for k in config.folds]


def resolve_cleaned_variant(store: FaciesStore, variant: str) -> str | None:
    """The label variant the ``cleaned`` scores of a run trained on ``variant`` use.

    The run's own variant when it is a cleaned one, else (a raw run) the store's default cleaned
    variant, or None when the store has none.
    """
    variant = store.resolve_variant(variant)
    if variant != "raw":
        return variant
    return store.default_cleaned


# --------------------------------------------------------------------------------------------
# Aggregation across seeds
# --------------------------------------------------------------------------------------------


def _mean_std(values: list[Any]) -> tuple[Any, Any]:
    present = [v for v in values if v is not None]
    if not present:
        return None, None
    first = present[0]
    if isinstance(first, dict):
        keys = list(first)
        pairs = {k: _mean_std([v.get(k) if isinstance(v, dict) else None for v in values]) for k in keys}
        return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}
    if isinstance(first, (list, tuple)):
        columns = [_mean_std([v[i] if isinstance(v, (list, tuple)) and i < len(v) else None for v in values]) for i in range(len(first))]
        return [p[0] for p in columns], [p[1] for p in columns]
    arr = np.asarray([float(v) for v in present if isinstance(v, (int, float)) and math.isfinite(float(v))])
    if arr.size == 0:
        return None, None
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std


def aggregate_seeds(per_seed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"per_seed", "mean", "std"}`` of per-seed summaries (std: sample std, ddof=1; 0 for one seed)."""
    summaries = list(per_seed.values())
    mean, std = _mean_std(summaries)
    return {"per_seed": per_seed, "mean": mean, "std": std, "std_ddof": 1}


# --------------------------------------------------------------------------------------------
# Merge
# --------------------------------------------------------------------------------------------


def missing_units(run_dir: str | RunDir, units: Sequence[WorkUnit]) -> list[WorkUnit]:
    """The units whose outputs are not (all) in the run directory."""
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    return [u for u in units if not is_unit_complete(rd, u.unit_id)]


def _incomplete_error(rd: RunDir, missing: list[WorkUnit], units: Sequence[WorkUnit],
                      outcomes: Sequence[UnitOutcome] | None) -> IncompleteRunError:
    errors = {o.unit.unit_id: o.error for o in outcomes or () if o.status == "failed"}
    lines = [f"{u.unit_id} ({u.label})" + (f": {errors[u.unit_id]}" if u.unit_id in errors else ": no outputs") for u in missing]
    msg = (f"Run {rd.root!r} is incomplete: {len(missing)} of {len(units)} work units missing - " + "; ".join(lines)
           + ". Completed units are kept; run the same command again to retry only the missing ones.")
    err = IncompleteRunError(msg)
    err.missing = [u.unit_id for u in missing]
    err.outcomes = list(outcomes or [])
    return err


def _evaluate(rd: RunDir, store: FaciesStore, frame: pd.DataFrame, val_frame: pd.DataFrame, *, pred_rel: str,
              val_rel: str, variant: str, seed: int, n_bootstrap: int, report_rel: str) -> EvaluationReport:
    from facies_bench.evaluation import evaluate_predictions

    local = not rd.is_url
    report = evaluate_predictions(rd.path(pred_rel) if local else frame, store, variant=variant,
                                  validation_predictions=rd.path(val_rel) if local else val_frame,
                                  n_bootstrap=n_bootstrap, seed=seed)
    if local:
        report.write(rd.path(report_rel))
    else:
        staging = rd.staging_dir()
        report.write(staging / "report")
        rd.publish_dir(staging / "report", report_rel)
    return report


def merge_run(run_dir: str | RunDir, store: FaciesStore, *, submission: Submission, config: ProtocolConfig,
              units: Sequence[WorkUnit], outcomes: Sequence[UnitOutcome] | None = None) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """Merge complete units into per-seed predictions, evaluate them and write ``result.json``.

    Returns:
        ``(result, reports)``: the result.json content and the evaluator reports per seed.

    Raises:
        IncompleteRunError: some planned units have no outputs; the message lists them (with
            their errors when ``outcomes`` holds failures).
    """
    import pandas as pd

    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    missing = missing_units(rd, units)
    if missing:
        raise _incomplete_error(rd, missing, units, outcomes)
    variant = store.resolve_variant(config.variant)
    cleaned = resolve_cleaned_variant(store, variant)
    records = {u.unit_id: rd.read_json(f"{unit_dir(u.unit_id)}/{UNIT_FILE}") for u in units}
    predictions: dict[str, Any] = {}
    validation_predictions: dict[str, Any] = {}
    per_seed_raw: dict[str, Any] = {}
    per_seed_clean: dict[str, Any] = {}
    reports: dict[int, dict[str, Any]] = {}
    for seed in config.seeds:
        seed_units = sorted((u for u in units if u.seed == seed), key=lambda u: u.test_fold)
        test = pd.concat([rd.read_parquet(f"{unit_dir(u.unit_id)}/test.parquet") for u in seed_units], ignore_index=True)
        val = pd.concat([rd.read_parquet(f"{unit_dir(u.unit_id)}/validation.parquet") for u in seed_units], ignore_index=True)
        pred_rel, val_rel = f"predictions/seed{seed}.parquet", f"validation_predictions/seed{seed}.parquet"
        for rel, frame, target in ((pred_rel, test, predictions), (val_rel, val, validation_predictions)):
            payload = frame_to_parquet_bytes(frame)
            rd.write_bytes(rel, payload)
            target[str(seed)] = {"path": rel, "sha256": hashlib.sha256(payload).hexdigest(), "n_rows": int(len(frame))}
        common: dict[str, Any] = dict(pred_rel=pred_rel, val_rel=val_rel, seed=seed, n_bootstrap=config.n_bootstrap)
        raw_report = _evaluate(rd, store, test, val, variant="raw", report_rel=f"report/seed{seed}/raw", **common)
        per_seed_raw[str(seed)] = raw_report.summary()
        reports[seed] = {"unpruned": raw_report, "cleaned": None}
        if cleaned is not None:
            clean_report = _evaluate(rd, store, test, val, variant=cleaned, report_rel=f"report/seed{seed}/{cleaned}", **common)
            per_seed_clean[str(seed)] = clean_report.summary()
            reports[seed]["cleaned"] = clean_report
    first = records[units[0].unit_id]
    store_info = store.describe()
    store_info.pop("path", None)
    model = submission.describe()
    model.pop("recipe_overrides", None)
    model["n_parameters"] = first.get("n_parameters")
    unpruned = {"variant": "raw", **aggregate_seeds(per_seed_raw)}
    result = {
        "schema_version": RESULT_SCHEMA_VERSION,
        "protocol_version": schema.PROTOCOL_VERSION,
        "package_version": package_version(),
        "created": utc_now(),
        "model": {k: model[k] for k in ("name", "kind", "n_parameters", "submission", "submission_sha256", "hparams")},
        "store": store_info,
        "variant": variant,
        "feature_set": config.feature_set,
        "features": list(config.features),
        "seeds": list(config.seeds),
        "folds": list(config.folds),
        "epochs": units[0].recipe.get("epochs") if units[0].recipe else None,
        "recipe": units[0].recipe,
        "hardware": describe_hardware(),
        "wall_time_s": {u.unit_id: records[u.unit_id].get("wall_time_s") for u in units},
        "predictions": predictions,
        "validation_predictions": validation_predictions,
        "metrics": {"summary_version": SUMMARY_VERSION, "unpruned": unpruned,
                    "cleaned": {"variant": cleaned, **aggregate_seeds(per_seed_clean)} if cleaned is not None else None},
    }
    rd.write_json(RESULT_FILE, result)
    return result, reports


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def _open_store(store: FaciesStore | str | os.PathLike, config: ProtocolConfig,
                storage_options: dict | None) -> tuple[FaciesStore, StoreRef]:
    if isinstance(store, FaciesStore):
        ref = StoreRef(path=store.path, storage_options=storage_options, cache_dir=config.cache_dir)
        if is_url(store.path) and config.cache_dir:
            return ref.open(), ref
        return store, ref
    ref = StoreRef(path=str(store), storage_options=storage_options, cache_dir=config.cache_dir)
    return ref.open(), ref


def run_protocol(submission: Submission | str | os.PathLike, store: FaciesStore | str | os.PathLike,
                 config: ProtocolConfig, run_dir: str | os.PathLike, *, executor: Any = None,
                 progress: ProgressReporter | None = None, storage_options: dict | None = None,
                 run_storage_options: dict | None = None) -> RunResult:
    """Run the benchmark protocol for a submission and write the run directory.

    Args:
        submission: a loaded :class:`Submission`, a ``.py`` file, a module or a registered name.
        store: an open store, or a path / fsspec URL.
        config: the run's settings.
        run_dir: where units, predictions, reports and ``result.json`` go (local path or fsspec URL).
        executor: a ``LocalExecutor`` / ``RayExecutor``; default from ``config.executor``.
        progress: receives unit and epoch events.
        storage_options: fsspec options for a store URL.
        run_storage_options: fsspec options for a run-directory URL.

    Returns:
        The :class:`RunResult`.

    Raises:
        SubmissionError: the submission registers no model or several, or needs features the store lacks.
        IncompleteRunError: some units failed; the message lists each with its error.  Completed
            units stay in the run directory, and running again retries only the failed ones.
    """
    sub = submission if isinstance(submission, Submission) else load_submission(submission)
    opened, store_ref = _open_store(store, config, storage_options)
    check_glacier_folds(opened)
    try:
        opened.feature_indices(config.features)
    except UnknownNameError as exc:
        folds = ", ".join(map(str, config.folds))
        raise SubmissionError(f"Submission {sub.label}, folds {folds}: {exc}") from exc
    units = plan_units(sub, opened, config)
    rd = RunDir(run_dir, storage_options=run_storage_options)
    rd.write_json(PLAN_FILE, {"created": utc_now(), "config": config.to_dict(), "model": sub.describe(),
                              "store": {k: v for k, v in opened.describe().items() if k != "path"},
                              "units": [u.to_dict() for u in units]})
    todo = missing_units(rd, units)
    todo_ids = {u.unit_id for u in todo}
    if progress is not None:
        progress.start(units, n_complete=len(units) - len(todo))
    executor = executor or make_executor(config.executor, ray_address=config.ray_address,
                                         cpus_per_unit=config.cpus_per_unit, gpus_per_unit=config.gpus_per_unit)
    env = UnitEnvironment(submission=sub.ref(), store=store_ref, run_dir=rd.root,
                          run_storage_options=run_storage_options)
    log.info("run %s: %d units planned, %d to run on %s", rd.root, len(units), len(todo), getattr(executor, "name", executor))
    in_process = isinstance(executor, LocalExecutor)
    ran = executor.run(todo, env, progress=progress, store=opened if in_process else None,
                       submission=sub if in_process else None) if todo else []
    by_id = {o.unit.unit_id: o for o in ran}
    outcomes = [by_id[u.unit_id] if u.unit_id in todo_ids else UnitOutcome(unit=u, status="skipped") for u in units]
    if progress is not None:
        progress.close()
    result, reports = merge_run(rd, opened, submission=sub, config=config, units=units, outcomes=outcomes)
    return RunResult(run_dir=rd.root, units=units, outcomes=outcomes, result=result, reports=reports)
