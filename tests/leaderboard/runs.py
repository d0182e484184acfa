"""Fixture runs: protocol run directories written in the layout of docs/contracts.md.

Predictions are the store's labels with noise (no training), so tests can craft good and bad
runs in well under a second each.  Metrics come from the real evaluator, as the protocol does.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facies_bench import schema

N_BOOTSTRAP = 1000


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def noisy_probabilities(labels: np.ndarray, *, skill: float, rng: np.random.Generator) -> np.ndarray:
    """(N, K) softmax probabilities that favour ``labels`` more as ``skill`` grows."""
    logits = rng.normal(0.0, 1.0, size=(len(labels), schema.N_CLASSES))
    logits[np.arange(len(labels)), np.clip(labels, 0, None)] += skill
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True)


def _frame(ids: np.ndarray, probs: np.ndarray, **extra: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"sample_id": ids.astype(np.int64)})
    for i, col in enumerate(schema.PROBABILITY_COLUMNS):
        frame[col] = probs[:, i]
    for key, values in extra.items():
        frame[key] = values.astype(np.int64)
    return frame


def write_run(run_dir: Path, store: Any, *, model: str = "test_model", skill: float = 2.0, seeds=(0,), features: int = 4,
              variant: str = "raw", n_parameters: int = 12345, rng_seed: int = 0, n_bootstrap: int = N_BOOTSTRAP,
              created: str = "2026-01-15T12:00:00+00:00") -> Path:
    """Write a complete run directory (result.json, plan.json, predictions, validation predictions).

    Metrics follow ``facies_bench.protocol.run.merge_run``: each seed's reports bootstrap with that
    seed, seeds are aggregated with the protocol's ``aggregate_seeds``.
    """
    from facies_bench.evaluation import SUMMARY_VERSION, EvaluationReport, evaluate_predictions
    from facies_bench.protocol.run import aggregate_seeds

    run_dir = Path(run_dir)
    ids = store.column("sample_id").astype(np.int64)
    folds = store.column("fold").astype(np.int64)
    labels = store.labels("raw").astype(np.int64)
    cleaned_variant = store.resolve_variant(variant) if variant != "raw" else store.default_cleaned
    predictions, validation = {}, {}
    per_seed = {"unpruned": {}, "cleaned": {}}
    for seed in seeds:
        rng = np.random.default_rng(rng_seed * 1000 + seed)
        test = _frame(ids, noisy_probabilities(labels, skill=skill, rng=rng), fold=folds)
        vids, vprobs, vmodel = [], [], []
        for k in range(schema.N_FOLDS):
            rows = folds == schema.validation_fold(k)
            vids.append(ids[rows])
            vprobs.append(noisy_probabilities(labels[rows], skill=skill, rng=rng))
            vmodel.append(np.full(rows.sum(), k))
        val = _frame(np.concatenate(vids), np.concatenate(vprobs), model_fold=np.concatenate(vmodel))
        for sub, frame, store_map in (("predictions", test, predictions), ("validation_predictions", val, validation)):
            path = run_dir / sub / f"seed{seed}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(path, index=False)
            store_map[str(seed)] = {"path": f"{sub}/seed{seed}.parquet", "sha256": _sha(path)}
        for scoring, v in (("unpruned", "raw"), ("cleaned", cleaned_variant)):
            if v is None:
                continue
            report = evaluate_predictions(test, store, variant=v, validation_predictions=val, n_bootstrap=n_bootstrap, seed=seed)
            per_seed[scoring][str(seed)] = EvaluationReport.from_dict(report.to_dict()).summary()
    metrics: dict[str, Any] = {"summary_version": SUMMARY_VERSION,
                               "unpruned": {"variant": "raw", **aggregate_seeds(per_seed["unpruned"])}, "cleaned": None}
    if per_seed["cleaned"]:
        metrics["cleaned"] = {"variant": cleaned_variant, **aggregate_seeds(per_seed["cleaned"])}
    describe = store.describe()
    describe.pop("path")
    result = {
        "schema_version": 1, "protocol_version": schema.PROTOCOL_VERSION, "package_version": "0.1.0", "created": created,
        "model": {"name": model, "kind": "torch", "n_parameters": n_parameters, "submission": f"{model}.py",
                  "submission_sha256": "0" * 64, "hparams": {}},
        "store": describe, "variant": variant, "feature_set": features, "features": list(schema.FEATURE_SETS[features]),
        "seeds": list(seeds), "folds": list(range(schema.N_FOLDS)), "epochs": 1, "recipe": {}, "hardware": {"cpu_model": "test"},
        "wall_time_s": {}, "predictions": predictions, "validation_predictions": validation,
        "metrics": metrics,
    }
    (run_dir / "result.json").write_text(json.dumps(result, indent=1))
    (run_dir / "plan.json").write_text(json.dumps({"config": {"n_bootstrap": n_bootstrap}}))
    return run_dir


def edit_result(run_dir: Path, edit) -> None:
    """Apply ``edit(result_dict)`` to a run's result.json in place."""
    path = Path(run_dir) / "result.json"
    result = json.loads(path.read_text())
    edit(result)
    path.write_text(json.dumps(result, indent=1))
