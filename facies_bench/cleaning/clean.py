"""``facies-bench clean``: a cleaned label variant from the out-of-sample predictions of a raw run."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facies_bench import __version__, schema
from facies_bench.atomic import replace_dir
from facies_bench.cleaning.label_issues import (
    CLEANLAB_SETTINGS,
    find_facies_label_issues,
    noise_recovery,
    pruning_summary,
)
from facies_bench.data.store import FaciesStore, open_store
from facies_bench.errors import FaciesBenchError, IncompleteRunError, ValidationError
from facies_bench.hashing import file_sha256

REVIEW_COLUMNS = ("rank", "sample_id", "glacier", "region", "scene_id", "sensor", "date", "row", "col", "x", "y",
                  "given_label", "likely_label", "likely_probability", "self_confidence")


@dataclass
class CleaningResult:
    """What a cleaning run did: the variant written, its summary and the expert review list."""

    variant: str
    store: dict[str, Any]
    provenance: dict[str, Any]
    summary: dict[str, Any]
    review: pd.DataFrame = field(repr=False)
    noise_recovery: dict[str, Any] | None = None
    report_dir: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the new variant, its store, provenance, summary and noise recovery."""
        return {"variant": self.variant, "store": self.store, "provenance": self.provenance,
                "summary": self.summary, "noise_recovery": self.noise_recovery}


def load_run_probabilities(run_dir: str | os.PathLike, store: FaciesStore) -> tuple[dict[str, Any], np.ndarray]:
    """The run's result.json and its out-of-sample probabilities in store row order.

    Several seeds are averaged (an ensemble is a better noise detector than one seed).  Refuses a
    run made on another store, one that is not a raw-label run, or one missing folds or samples.
    """
    from facies_bench.predictions import read_predictions

    run_dir = Path(run_dir)
    result_file = run_dir / "result.json"
    if not result_file.is_file():
        raise IncompleteRunError(f"{str(run_dir)!r} is not a finished run: {result_file.name} is missing. Finish it with `facies-bench evaluate ... -o {run_dir}`.")
    result = json.loads(result_file.read_text())
    run_hash = result.get("store", {}).get("content_hash")
    if run_hash != store.content_hash:
        msg = (f"Run {str(run_dir)!r} was made on store {result.get('store', {}).get('name')!r} with hash {run_hash}; "
               f"{store.path!r} has hash {store.content_hash}. Clean with the store the run used.")
        raise ValidationError(msg)
    if result.get("variant", "raw") != "raw":
        raise ValidationError(f"Run {str(run_dir)!r} was trained on variant {result.get('variant')!r}; cleaning needs a raw-label run.")
    missing_folds = sorted(set(range(schema.N_FOLDS)) - set(result.get("folds", [])))
    if missing_folds:
        raise IncompleteRunError(f"Run {str(run_dir)!r} lacks test folds {missing_folds}; confident learning needs out-of-sample predictions for all six folds.")
    ids = store.column("sample_id")
    position = pd.Series(np.arange(len(ids)), index=ids)
    total = np.zeros((len(ids), schema.N_CLASSES))
    for _seed, entry in sorted(result["predictions"].items()):
        path = run_dir / entry["path"]
        frame = read_predictions(path, store=store)
        if len(frame) != len(ids):
            raise IncompleteRunError(f"{path} has predictions for {len(frame)} of the store's {len(ids)} samples.")
        rows = position.loc[frame["sample_id"].to_numpy()].to_numpy()
        total[rows] += frame[list(schema.PROBABILITY_COLUMNS)].to_numpy(dtype=np.float64)
    return result, total / len(result["predictions"])


def review_list(store: FaciesStore, labels: np.ndarray, probs: np.ndarray, issues: np.ndarray,
                self_confidence: np.ndarray) -> pd.DataFrame:
    """Flagged samples ranked by self-confidence (most suspicious first), for checking in a GIS."""
    meta = store.metadata("raw")
    rows = np.flatnonzero(issues)
    rows = rows[np.argsort(self_confidence[rows], kind="stable")]
    likely = probs[rows].argmax(axis=1)
    frame = meta.iloc[rows][["sample_id", "glacier", "region", "scene_id", "sensor", "date", "row", "col", "x", "y"]].copy()
    names = np.asarray(schema.CLASS_NAMES, dtype=object)
    frame["given_label"] = names[labels[rows]]
    frame["likely_label"] = names[likely]
    frame["likely_probability"] = probs[rows, likely].round(6)
    frame["self_confidence"] = self_confidence[rows].round(6)
    frame.insert(0, "rank", np.arange(1, len(rows) + 1))
    return frame.reset_index(drop=True)[list(REVIEW_COLUMNS)]


def format_summary_md(result: CleaningResult) -> str:
    """Markdown pruning table in the layout of the paper's Table 3 "Pruned, %" columns."""
    per = result.summary["per_class"]
    head = "| | " + " | ".join(c.name for c in schema.CLASSES) + " | Overall |"
    sep = "|---" * (schema.N_CLASSES + 2) + "|"
    pct = ["-" if per[c.key]["protected"] or per[c.key]["pruned_fraction"] is None else f"{100 * per[c.key]['pruned_fraction']:.1f}"
           for c in schema.CLASSES]
    lines = [f"# Cleaned variant `{result.variant}`", "",
             f"Confident learning (cleanlab {result.provenance['cleanlab_version']}, filter_by=confident_learning) on the "
             f"out-of-sample predictions of run `{result.provenance['run']['model']}`; "
             f"{', '.join(schema.NEVER_PRUNED)} are never pruned.", "",
             head, sep, "| Pruned, % | " + " | ".join(pct) + f" | {100 * result.summary['pruned_fraction']:.1f} |",
             "| n | " + " | ".join(str(per[c.key]["n"]) for c in schema.CLASSES) + f" | {result.summary['n']} |"]
    if result.noise_recovery:
        nr = result.noise_recovery
        fmt = lambda v: "-" if v is None else f"{100 * v:.1f}"  # noqa: E731
        lines += ["", "Against the injected label noise of the synthetic store (given label != true class):", "",
                  head, sep,
                  "| Noisy, % | " + " | ".join(fmt(nr["per_class"][c.key]["base_rate"]) for c in schema.CLASSES) + f" | {fmt(nr['overall']['base_rate'])} |",
                  "| Precision, % | " + " | ".join(fmt(nr["per_class"][c.key]["precision"]) for c in schema.CLASSES) + f" | {fmt(nr['overall']['precision'])} |",
                  "| Recall, % | " + " | ".join(fmt(nr["per_class"][c.key]["recall"]) for c in schema.CLASSES) + f" | {fmt(nr['overall']['recall'])} |"]
    return "\n".join(lines) + "\n"


def _write_report(result: CleaningResult, report_dir: Path) -> None:
    report_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{report_dir.name}.tmp-", dir=report_dir.parent))
    try:
        (tmp / "cleaning.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
        (tmp / "cleaning.md").write_text(format_summary_md(result))
        result.review.to_csv(tmp / "review.csv", index=False)
        replace_dir(tmp, report_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def clean_run(run_dir: str | os.PathLike, store: str | os.PathLike | FaciesStore, name: str, *,
              overwrite: bool = False, make_default: bool = False, report_dir: str | os.PathLike | None = None) -> CleaningResult:
    """Run confident learning on a raw run's predictions and store the result as a label variant.

    Args:
        run_dir: a finished raw-label run of ``facies-bench evaluate`` (all six folds).
        store: the store the run used (path, URL or open store); it gains variant ``name``.
        name: the new variant's name.
        overwrite: replace an existing variant of that name.
        make_default: make it the store's default ``cleaned`` variant (the first variant always is).
        report_dir: where the summary and review list go (default ``RUN_DIR/cleaning/<name>``).
    """
    store_path = store.path if isinstance(store, FaciesStore) else store
    store = open_store(store_path, mode="r+")
    if name in store.variants and not overwrite:
        raise FaciesBenchError(f"Label variant {name!r} already exists in {store.path!r}; pass --overwrite to replace it.")
    result_json, probs = load_run_probabilities(run_dir, store)
    raw = store.labels("raw")
    issues, self_conf = find_facies_label_issues(raw, probs)
    cleaned = np.where(issues, schema.PRUNED, raw).astype(np.int8)
    import cleanlab

    result_file = Path(run_dir) / "result.json"
    provenance = {
        "method": "confident_learning", "cleanlab_version": cleanlab.__version__, "cleanlab_settings": CLEANLAB_SETTINGS,
        "never_pruned": list(schema.NEVER_PRUNED), "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "facies_bench_version": __version__,
        "run": {"path": str(Path(run_dir).resolve()), "model": result_json.get("model", {}).get("name"),
                "result_sha256": file_sha256(result_file), "seeds": result_json.get("seeds"),
                "feature_set": result_json.get("feature_set")},
        "counts": {"n": int(len(raw)), "pruned": int(issues.sum())},
    }
    summary = pruning_summary(raw, issues)
    true = store.true_labels()
    recovery = noise_recovery(raw, true, issues) if true is not None else None
    store.write_label_variant(name, cleaned, provenance, overwrite=overwrite, make_default=make_default)
    result = CleaningResult(variant=name, store=store.describe(), provenance=provenance, summary=summary,
                            review=review_list(store, raw, probs, issues, self_conf), noise_recovery=recovery)
    result.report_dir = Path(report_dir) if report_dir else Path(run_dir) / "cleaning" / name
    _write_report(result, result.report_dir)
    return result
