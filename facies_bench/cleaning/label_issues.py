"""Confident-learning wrappers: return masks and scores, never touch a store."""

from __future__ import annotations

from typing import Any

import numpy as np

from facies_bench import schema

#: cleanlab settings used for every cleaned variant (recorded in its provenance).
CLEANLAB_SETTINGS: dict[str, Any] = {"filter_by": "confident_learning", "frac_noise": 1.0,
                                     "min_examples_per_class": 1, "multi_label": False, "n_jobs": 1}


def find_facies_label_issues(labels: np.ndarray, pred_probs: np.ndarray, *,
                             protected: tuple[str, ...] = schema.NEVER_PRUNED) -> tuple[np.ndarray, np.ndarray]:
    """Flag likely mislabelled samples with cleanlab's confident learning.

    Args:
        labels: (N,) given class codes (0..7).
        pred_probs: (N, K) out-of-sample probabilities, K = len(CLASSES), in that order.
        protected: class names never pruned (the paper: shadow, water, cloud).

    Returns:
        ``(issues, self_confidence)``: (N,) bool mask of samples to prune, and (N,) the
        predicted probability of each sample's given label (lower = more suspicious).
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_self_confidence_for_each_label

    labels = np.asarray(labels, dtype=np.int64)
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.shape != (len(labels), schema.N_CLASSES):
        msg = f"pred_probs has shape {pred_probs.shape}; expected ({len(labels)}, {schema.N_CLASSES}) in CLASSES order."
        raise ValueError(msg)
    issues = find_label_issues(labels, pred_probs, **CLEANLAB_SETTINGS)
    protected_codes = [schema.class_index(c) for c in protected]
    issues &= ~np.isin(labels, protected_codes)
    return issues, get_self_confidence_for_each_label(labels, pred_probs)


def pruning_summary(labels: np.ndarray, issues: np.ndarray) -> dict[str, Any]:
    """Pruned share per class and overall (the paper's "Pruned, %" columns of Table 3), as fractions."""
    labels = np.asarray(labels)
    per_class = {}
    for c in schema.CLASSES:
        n = int((labels == c.index).sum())
        pruned = int((issues & (labels == c.index)).sum())
        per_class[c.key] = {"n": n, "pruned": pruned, "pruned_fraction": pruned / n if n else None,
                            "protected": c.name in schema.NEVER_PRUNED}
    return {"n": int(len(labels)), "pruned": int(issues.sum()),
            "pruned_fraction": float(issues.mean()) if len(labels) else 0.0, "per_class": per_class}


def noise_recovery(raw: np.ndarray, true: np.ndarray, issues: np.ndarray) -> dict[str, Any]:
    """Precision and recall of the flagged samples against injected label noise (synthetic stores).

    A sample is noisy when its given label differs from its true class.  Per class (of the given
    label): precision = flagged and noisy / flagged; recall = flagged and noisy / noisy.
    """
    raw, true, issues = np.asarray(raw), np.asarray(true), np.asarray(issues, bool)
    noisy = raw != true

    def pr(mask: np.ndarray) -> dict[str, Any]:
        flagged, bad = issues & mask, noisy & mask
        hits = int((flagged & bad).sum())
        return {"flagged": int(flagged.sum()), "noisy": int(bad.sum()), "hits": hits,
                "precision": hits / flagged.sum() if flagged.sum() else None,
                "recall": hits / bad.sum() if bad.sum() else None,
                "base_rate": float(bad.sum() / mask.sum()) if mask.sum() else None}

    return {"overall": pr(np.ones_like(issues)),
            "per_class": {c.key: pr(raw == c.index) for c in schema.CLASSES}}
