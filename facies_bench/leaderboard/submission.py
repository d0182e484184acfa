"""The ``result.json`` of a protocol run, and the checks a run must pass to join the leaderboard.

A run directory (``docs/contracts.md``, "Protocol run directory") holds ``result.json``, the
out-of-sample test predictions of every seed and the fold models' validation predictions.  The
leaderboard never trusts a number a submitter wrote: :func:`validate_run` checks the identity of
the run (schema and protocol versions, the store it ran on, the folds and the samples covered),
then recomputes every metric with the standard evaluator from the predictions and compares the
result with the submitted numbers.  The first failed rule raises a
:class:`~facies_bench.errors.ValidationError` that names the run, the rule and what is valid.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from facies_bench import schema
from facies_bench.errors import FaciesBenchError, InvalidValueError, ValidationError
from facies_bench.evaluation.metric_table import SUMMARY_VERSION, summary_keys
from facies_bench.hashing import file_sha256

#: Version of the ``result.json`` layout this leaderboard accepts.
RESULT_SCHEMA_VERSION = 1
#: Largest accepted absolute difference between a submitted and a recomputed metric.
METRIC_TOLERANCE = 1e-6
#: Bootstrap settings of the protocol's evaluator when a result does not record its own.
DEFAULT_N_BOOTSTRAP = 1000
#: Fewest bootstrap resamples behind an interval shown on the leaderboard.
MIN_BOOTSTRAP = 1000
#: Keys of the per-seed summary of one evaluator report, as this version writes it in
#: ``result.json`` (from the metric table; a run records its ``metrics.summary_version``).
SUMMARY_KEYS = summary_keys(SUMMARY_VERSION)
#: Scorings of a result: ``unpruned`` against the raw labels, ``cleaned`` against a cleaned variant.
SCORINGS = ("unpruned", "cleaned")
#: Top-level keys of ``result.json`` and the JSON types they must have.
REQUIRED_KEYS: dict[str, tuple[type, ...]] = {
    "schema_version": (int,), "protocol_version": (str,), "package_version": (str,), "created": (str,),
    "model": (dict,), "store": (dict,), "variant": (str,), "features": (list,), "seeds": (list,),
    "folds": (list,), "predictions": (dict,), "validation_predictions": (dict,), "metrics": (dict,),
}
MODEL_KEYS = ("name", "kind", "n_parameters")
STORE_KEYS = ("name", "version", "content_hash")


@dataclass
class ValidatedRun:
    """A run that passed every check, with everything recomputed from its predictions.

    Attributes:
        run_dir: the run directory.
        result: the submitted ``result.json``.
        result_bytes: its exact bytes.
        predictions: seed -> validated test predictions (every sample of the store).
        validation_predictions: seed -> validated validation predictions (``model_fold``).
        reports: seed -> scoring (``unpruned``/``cleaned``) -> evaluator ``report.to_dict()``.
        metrics: recomputed metrics, laid out as ``result["metrics"]``.
        cleaned_variant: the label variant behind the ``cleaned`` scores, or None.
        n_bootstrap: bootstrap resamples used by the evaluator.
        bootstrap_seed: seed of the evaluator's bootstrap (None: each training seed's own).
    """

    run_dir: Path
    result: dict[str, Any]
    result_bytes: bytes
    predictions: dict[int, pd.DataFrame]
    validation_predictions: dict[int, pd.DataFrame]
    reports: dict[int, dict[str, dict[str, Any]]]
    metrics: dict[str, Any]
    cleaned_variant: str | None
    n_bootstrap: int
    bootstrap_seed: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        """Seeds with predictions, sorted."""
        return sorted(self.predictions)


# --------------------------------------------------------------------------------------------
# Reading result.json
# --------------------------------------------------------------------------------------------


def load_result(run_dir: str | Path) -> tuple[dict[str, Any], bytes]:
    """Read ``RUN_DIR/result.json``; returns the parsed object and its bytes."""
    path = Path(run_dir) / "result.json"
    if not Path(run_dir).is_dir():
        raise ValidationError(f"Run directory {str(run_dir)!r} does not exist. Pass the -o folder of `facies-bench evaluate`.")
    if not path.is_file():
        msg = f"{str(path)!r} not found: a run directory must hold the result.json written by `facies-bench evaluate`."
        raise ValidationError(msg)
    data = path.read_bytes()
    try:
        result = json.loads(data)
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ValidationError(f"{str(path)!r} is not valid JSON: {exc}.") from exc
    if not isinstance(result, dict):
        raise ValidationError(f"{str(path)!r} must hold a JSON object, got {type(result).__name__}.")
    return result, data


def check_result_schema(result: dict[str, Any], *, source: str = "result.json") -> None:
    """Check the schema version, the required keys and their types.

    Raises:
        ValidationError: naming the first missing or mistyped key.
    """
    version = result.get("schema_version")
    if version != RESULT_SCHEMA_VERSION:
        msg = (f"{source}: schema_version is {version!r}; this leaderboard accepts result.json schema version "
               f"{RESULT_SCHEMA_VERSION}. Re-run `facies-bench evaluate` with this facies-bench version.")
        raise ValidationError(msg)
    for key, types in REQUIRED_KEYS.items():
        if key not in result:
            raise ValidationError(f"{source}: required key {key!r} is missing. Required: {', '.join(REQUIRED_KEYS)}.")
        if not isinstance(result[key], types) or (types == (int,) and isinstance(result[key], bool)):
            msg = f"{source}: key {key!r} must be a JSON {types[0].__name__}, got {type(result[key]).__name__}."
            raise ValidationError(msg)
    for group, keys in (("model", MODEL_KEYS), ("store", STORE_KEYS)):
        missing = [k for k in keys if k not in result[group]]
        if missing:
            raise ValidationError(f"{source}: '{group}' lacks {', '.join(missing)}. Required: {', '.join(keys)}.")
    if not result["seeds"] or not all(isinstance(s, int) and not isinstance(s, bool) for s in result["seeds"]):
        raise ValidationError(f"{source}: 'seeds' must be a non-empty list of integers, got {result['seeds']!r}.")
    if len(set(result["seeds"])) != len(result["seeds"]):
        raise ValidationError(f"{source}: 'seeds' has duplicates: {result['seeds']!r}.")
    metrics = result["metrics"]
    run_summary_keys(result, source=source)
    if not isinstance(metrics.get("unpruned"), dict):
        raise ValidationError(f"{source}: metrics.unpruned is missing; it must hold per_seed, mean and std.")
    for scoring in SCORINGS:
        block = metrics.get(scoring)
        if block is None and scoring == "cleaned":
            continue
        if not isinstance(block, dict) or not all(isinstance(block.get(k), dict) for k in ("per_seed", "mean", "std")):
            raise ValidationError(f"{source}: metrics.{scoring} must be an object with per_seed, mean and std (or null for cleaned).")
    try:
        schema.resolve_features(result["features"])
    except FaciesBenchError as exc:
        raise ValidationError(f"{source}: 'features' is invalid: {exc}") from exc


def run_summary_keys(result: dict[str, Any], *, source: str = "result.json") -> tuple[str, ...]:
    """The summary keys of the run's own summary version (``metrics.summary_version``, 1 when absent).

    An older run holds the keys of its version only and is compared on those; metrics added since
    are recomputed by the leaderboard but never required from it.

    Raises:
        ValidationError: for a version that is not an integer this facies-bench knows.
    """
    version = result["metrics"].get("summary_version", 1)
    try:
        return summary_keys(version)
    except InvalidValueError as exc:
        raise ValidationError(f"{source}: metrics.summary_version: {exc}") from exc


def check_protocol_version(result: dict[str, Any], *, source: str = "result.json") -> None:
    """Raise :class:`ValidationError` unless the run follows this package's protocol version."""
    if result.get("protocol_version") != schema.PROTOCOL_VERSION:
        msg = (f"{source}: protocol_version is {result.get('protocol_version')!r}; this leaderboard ranks runs of protocol "
               f"version {schema.PROTOCOL_VERSION!r} only. Re-run the model with the current `facies-bench evaluate`.")
        raise ValidationError(msg)


def check_store_identity(result: dict[str, Any], store: Any, *, source: str = "result.json") -> None:
    """The run must have used exactly the board's dataset: same name, version and content hash."""
    ran_on = result["store"]
    expected = {"name": store.name, "version": store.version, "content_hash": store.content_hash}
    for key in STORE_KEYS:
        if ran_on.get(key) != expected[key]:
            msg = (f"{source}: the run used store {key} {ran_on.get(key)!r}, but the leaderboard's dataset has "
                   f"{key} {expected[key]!r} ({expected['name']} {expected['version']}). Re-run on that dataset or pass "
                   "the store the run used with --store.")
            raise ValidationError(msg)


def check_folds(result: dict[str, Any], *, source: str = "result.json") -> None:
    """Raise :class:`ValidationError` unless the run covers every test fold."""
    folds = result["folds"]
    if sorted(folds) != list(range(schema.N_FOLDS)):
        missing = sorted(set(range(schema.N_FOLDS)) - set(folds))
        msg = (f"{source}: the run covers fold(s) {sorted(folds)}; a leaderboard entry needs all {schema.N_FOLDS} test folds "
               f"0-{schema.N_FOLDS - 1} (missing {missing}). Finish the run (it resumes) with --folds all.")
        raise ValidationError(msg)


# --------------------------------------------------------------------------------------------
# Predictions
# --------------------------------------------------------------------------------------------


def _resolve_file(run_dir: Path, entry: Any, *, what: str, source: str) -> Path:
    """The file a ``{"path", "sha256"}`` record points to, inside the run directory, hash checked."""
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise ValidationError(f"{source}: {what} must be an object with 'path' and 'sha256', got {entry!r}.")
    rel = PurePosixPath(entry["path"].replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        raise ValidationError(f"{source}: {what} path {entry['path']!r} must be relative and inside the run directory.")
    path = run_dir / Path(*rel.parts)
    if not path.is_file():
        raise ValidationError(f"{source}: {what} file {str(path)!r} does not exist.")
    actual = file_sha256(path)
    if entry.get("sha256") != actual:
        msg = (f"{source}: {what} file {str(path)!r} has SHA-256 {actual}, but result.json records {entry.get('sha256')!r}; "
               "the file changed after the run wrote it.")
        raise ValidationError(msg)
    return path


def _seed_record(block: dict[str, Any], seed: int, *, what: str, source: str) -> Any:
    for key in (str(seed), seed):
        if key in block:
            return block[key]
    raise ValidationError(f"{source}: {what} has no entry for seed {seed}; seeds {sorted(block)} are listed, the run has {seed}.")


def read_run_predictions(run_dir: Path, result: dict[str, Any], store: Any, *,
                         source: str) -> tuple[dict[int, pd.DataFrame], dict[int, pd.DataFrame]]:
    """Read, hash-check and validate every seed's test and validation predictions.

    Test predictions must cover every sample of the store; validation predictions every fold model.
    """
    from facies_bench.errors import PredictionsError
    from facies_bench.predictions import read_predictions

    store_ids = np.asarray(store.column("sample_id"), dtype=np.int64)
    tests: dict[int, pd.DataFrame] = {}
    validations: dict[int, pd.DataFrame] = {}
    for seed in result["seeds"]:
        test_path = _resolve_file(run_dir, _seed_record(result["predictions"], seed, what="predictions", source=source),
                                  what=f"predictions of seed {seed}", source=source)
        val_path = _resolve_file(run_dir, _seed_record(result["validation_predictions"], seed, what="validation_predictions",
                                                       source=source), what=f"validation predictions of seed {seed}", source=source)
        try:
            test = read_predictions(test_path, store=store, kind="test")
            val = read_predictions(val_path, store=store, kind="validation")
        except PredictionsError as exc:
            raise ValidationError(f"{source}: {exc}") from exc
        missing = np.setdiff1d(store_ids, test["sample_id"].to_numpy())
        if missing.size:
            shown = ", ".join(str(int(i)) for i in missing[:5]) + (f" and {missing.size - 5} more" if missing.size > 5 else "")
            msg = (f"{source}: predictions of seed {seed} ({test_path.name}) lack {missing.size} of the store's {store_ids.size} "
                   f"samples (sample_id {shown}); a leaderboard entry needs an out-of-sample prediction for every sample.")
            raise ValidationError(msg)
        model_folds = sorted(set(val["model_fold"].astype(int).tolist()))
        if model_folds != list(range(schema.N_FOLDS)):
            msg = (f"{source}: validation predictions of seed {seed} ({val_path.name}) come from fold models {model_folds}; "
                   f"all {schema.N_FOLDS} fold models must predict their validation folds (calibration needs them).")
            raise ValidationError(msg)
        tests[int(seed)] = test
        validations[int(seed)] = val
    return tests, validations


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def _get(report: dict[str, Any], *path: str, default: Any = None) -> Any:
    node: Any = report
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def summarise_report(report: dict[str, Any], *, version: int | None = None) -> dict[str, Any]:
    """The per-seed summary of an evaluator report (``report.to_dict()``), as in ``result.json``.

    Delegates to :meth:`facies_bench.evaluation.EvaluationReport.summary`, the one definition the
    protocol runner also writes: keys ``SUMMARY_KEYS``, fractions in [0, 1], intervals as
    ``[low, high]``, ``per_class_f1`` keyed by class key, None where undefined.
    """
    from facies_bench.evaluation import EvaluationReport

    return EvaluationReport.from_dict(report).summary(version=version)


def aggregate_seeds(per_seed: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mean and standard deviation of per-seed summaries, key by key, as the protocol writes them.

    Delegates to :func:`facies_bench.protocol.run.aggregate_seeds` (sample std, ddof 1; 0 for one
    seed; intervals averaged bound by bound).
    """
    from facies_bench.protocol.run import aggregate_seeds as protocol_aggregate

    block = protocol_aggregate(per_seed)
    return block["mean"], block["std"]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def compare_metrics(submitted: dict[str, Any], recomputed: dict[str, Any], *, tolerance: float = METRIC_TOLERANCE,
                    source: str = "result.json", prefix: str = "metrics") -> None:
    """Every number of ``submitted`` must equal ``recomputed`` within ``tolerance``; same keys, same Nones.

    Raises:
        ValidationError: listing the first differing metrics with both values.
    """
    got = _flatten(submitted)
    want = _flatten(recomputed)
    problems = []
    for key in sorted(set(got) | set(want)):
        if key not in got:
            problems.append(f"{prefix}.{key} missing (recomputed {want[key]!r})")
            continue
        if key not in want:
            problems.append(f"{prefix}.{key} is not a metric of the standard evaluator")
            continue
        a, b = got[key], want[key]
        a_missing = a is None or (isinstance(a, float) and math.isnan(a))
        if a_missing or b is None:
            if not (a_missing and b is None):
                problems.append(f"{prefix}.{key} = {a!r}, recomputed {b!r}")
            continue
        if isinstance(a, bool) or not isinstance(a, (int, float)):
            problems.append(f"{prefix}.{key} = {a!r} is not a number")
        elif abs(float(a) - float(b)) > tolerance:
            problems.append(f"{prefix}.{key} = {a!r}, recomputed {b!r}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        msg = (f"{source}: {len(problems)} submitted metric(s) differ from the standard evaluator's recomputation from the "
               f"predictions (tolerance {tolerance:g}): {shown}. Submitted numbers are never trusted; re-run "
               "`facies-bench evaluate` instead of editing result.json.")
        raise ValidationError(msg)


def bootstrap_settings(result: dict[str, Any], run_dir: Path | None = None) -> tuple[int, int | None]:
    """The evaluator's bootstrap resamples and seed used by the run.

    Looked up in ``result["evaluation"]``, then in the run's ``plan.json`` (the protocol's
    config), else the protocol defaults.  The seed is None when the run used the protocol's
    convention: each training seed's report bootstraps with that same seed.
    """
    block = result.get("evaluation")
    if isinstance(block, dict) and "n_bootstrap" in block:
        n, seed = block["n_bootstrap"], block.get("bootstrap_seed")
        if isinstance(n, bool) or not isinstance(n, int):
            raise ValidationError(f"result.json: evaluation.n_bootstrap must be an integer, got {n!r}.")
        return n, (seed if isinstance(seed, int) and not isinstance(seed, bool) else None)
    if run_dir is not None and (Path(run_dir) / "plan.json").is_file():
        try:
            plan = json.loads((Path(run_dir) / "plan.json").read_text())
        except (OSError, ValueError):
            plan = {}
        config = plan.get("config") if isinstance(plan, dict) else None
        if isinstance(config, dict) and isinstance(config.get("n_bootstrap"), int):
            return int(config["n_bootstrap"]), None
    return DEFAULT_N_BOOTSTRAP, None


def read_cleaned_variant(result: dict[str, Any], store: Any, *, source: str = "result.json") -> str | None:
    """The label variant a run's ``cleaned`` scores were computed against.

    The variant the result records, else the protocol's choice for the run's training variant
    (:func:`facies_bench.protocol.run.resolve_cleaned_variant`: the run's own cleaned variant, or
    the store's default cleaned variant for a raw run; None when the store has none).
    """
    from facies_bench.errors import UnknownNameError
    from facies_bench.protocol.run import resolve_cleaned_variant

    recorded = result.get("cleaned_variant") or _get(result, "metrics", "cleaned", "variant")
    try:
        if recorded:
            return store.resolve_variant(recorded)
        return resolve_cleaned_variant(store, result["variant"])
    except UnknownNameError as exc:
        named = recorded or result["variant"]
        raise ValidationError(f"{source}: the run's cleaned variant {named!r} is not in the leaderboard's store: {exc}") from exc


def recompute_metrics(predictions: dict[int, pd.DataFrame], validation_predictions: dict[int, pd.DataFrame], store: Any, *,
                      cleaned_variant: str | None, n_bootstrap: int, bootstrap_seed: int | None = None
                      ) -> tuple[dict[str, Any], dict[int, dict[str, dict[str, Any]]]]:
    """Evaluate every seed with the standard evaluator: unpruned (raw labels) and cleaned.

    ``bootstrap_seed`` None bootstraps each seed's report with the training seed itself (the
    protocol's convention).

    Returns:
        ``(metrics, reports)``: metrics laid out as ``result.json``'s ``metrics`` and the full
        reports per seed and scoring.
    """
    from facies_bench.evaluation import evaluate_predictions

    reports: dict[int, dict[str, dict[str, Any]]] = {}
    metrics: dict[str, Any] = {"summary_version": SUMMARY_VERSION, "unpruned": None, "cleaned": None}
    for scoring, variant in (("unpruned", "raw"), ("cleaned", cleaned_variant)):
        if variant is None:
            continue
        per_seed = {}
        for seed in sorted(predictions):
            report = evaluate_predictions(predictions[seed], store, variant=variant,
                                          validation_predictions=validation_predictions[seed],
                                          n_bootstrap=n_bootstrap,
                                          seed=seed if bootstrap_seed is None else bootstrap_seed).to_dict()
            reports.setdefault(seed, {})[scoring] = report
            per_seed[str(seed)] = summarise_report(report)
        mean, std = aggregate_seeds(per_seed)
        metrics[scoring] = {"per_seed": per_seed, "mean": mean, "std": std}
    return metrics, reports


def _comparable(block: dict[str, Any], keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``per_seed``, ``mean`` and ``std`` of a metrics block; with ``keys``, each summary cut to those keys."""
    out: dict[str, Any] = {k: block[k] for k in ("per_seed", "mean", "std") if k in block}
    if keys is None:
        return out

    def cut(summary: Any) -> Any:
        return {k: v for k, v in summary.items() if k in keys} if isinstance(summary, dict) else summary

    if isinstance(out.get("per_seed"), dict):
        out["per_seed"] = {seed: cut(summary) for seed, summary in out["per_seed"].items()}
    for k in ("mean", "std"):
        if k in out:
            out[k] = cut(out[k])
    return out


def validate_run(run_dir: str | Path, store: Any, *, tolerance: float = METRIC_TOLERANCE) -> ValidatedRun:
    """Check a run directory against the leaderboard's rules and recompute its metrics.

    Rules, in order: result.json schema version and keys; protocol version; store name, version and
    content hash equal to ``store``'s; all six folds; for every seed, prediction files whose hashes
    match result.json, valid for the store and covering every sample, and validation predictions
    from all six fold models; every submitted metric equal (within ``tolerance``) to the standard
    evaluator's recomputation.

    Args:
        run_dir: the protocol run directory.
        store: the leaderboard's dataset (an open :class:`~facies_bench.data.store.FaciesStore`).
        tolerance: largest accepted absolute metric difference.

    Returns:
        A :class:`ValidatedRun`.

    Raises:
        ValidationError: naming the run and the first rule it breaks.
    """
    run_dir = Path(run_dir)
    result, data = load_result(run_dir)
    source = str(run_dir / "result.json")
    check_result_schema(result, source=source)
    check_protocol_version(result, source=source)
    check_store_identity(result, store, source=source)
    check_folds(result, source=source)
    predictions, validations = read_run_predictions(run_dir, result, store, source=source)
    cleaned = read_cleaned_variant(result, store, source=source)
    n_bootstrap, boot_seed = bootstrap_settings(result, run_dir)
    if n_bootstrap < MIN_BOOTSTRAP:
        msg = (f"{source}: the run's evaluator used {n_bootstrap} bootstrap resamples; leaderboard intervals need at least "
               f"{MIN_BOOTSTRAP} (the protocol default). Re-run without lowering n_bootstrap.")
        raise ValidationError(msg)
    metrics, reports = recompute_metrics(predictions, validations, store, cleaned_variant=cleaned,
                                         n_bootstrap=n_bootstrap, bootstrap_seed=boot_seed)
    submitted = result["metrics"]
    keys = run_summary_keys(result, source=source)
    compare_metrics(_comparable(submitted["unpruned"]), _comparable(metrics["unpruned"], keys), tolerance=tolerance,
                    source=source, prefix="metrics.unpruned")
    notes = []
    if submitted.get("cleaned") is not None:
        if metrics["cleaned"] is None:
            msg = (f"{source}: metrics.cleaned is given, but the leaderboard's store has no cleaned variant to score it "
                   f"against (variants: {', '.join(store.variants)}).")
            raise ValidationError(msg)
        compare_metrics(_comparable(submitted["cleaned"]), _comparable(metrics["cleaned"], keys), tolerance=tolerance,
                        source=source, prefix="metrics.cleaned")
    elif metrics["cleaned"] is not None:
        notes.append(f"cleaned scores computed by the leaderboard against variant {cleaned!r} (the run reported none)")
    return ValidatedRun(run_dir=run_dir, result=result, result_bytes=data, predictions=predictions,
                        validation_predictions=validations, reports=reports, metrics=metrics, cleaned_variant=cleaned,
                        n_bootstrap=n_bootstrap, bootstrap_seed=boot_seed, notes=notes)
