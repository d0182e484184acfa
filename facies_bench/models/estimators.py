"""Helpers for estimator submissions (the scikit-learn ``fit`` / ``predict_proba`` contract).

An estimator entry of the registry is a class whose instances offer
``fit(train: ArraySplit, validation: ArraySplit)`` and ``predict_proba(split) -> (N, K)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from facies_bench import schema

if TYPE_CHECKING:  # training sits above models; for annotations only
    from facies_bench.training.split import ArraySplit


def centre_pixel_features(patches: np.ndarray) -> np.ndarray:
    """(N, C) features of the centre pixel of (N, C, H, W) patches (index ``size // 2``)."""
    patches = np.asarray(patches)
    if patches.ndim != 4:
        raise ValueError(f"Patches have shape {patches.shape}; expected (N, C, H, W).")
    return np.ascontiguousarray(patches[:, :, patches.shape[2] // 2, patches.shape[3] // 2], dtype=np.float32)


def labelled(split: ArraySplit) -> np.ndarray:
    """Boolean mask of the samples of ``split`` that have a label (pruned samples are -1)."""
    return np.asarray(split.labels) >= 0


def expand_proba(proba: np.ndarray, classes: np.ndarray, n_classes: int = schema.N_CLASSES) -> np.ndarray:
    """Put an estimator's (N, len(classes)) probabilities into (N, K) columns in class order.

    Classes the estimator never saw get probability 0.
    """
    out = np.zeros((proba.shape[0], n_classes), np.float32)
    out[:, np.asarray(classes, dtype=np.int64)] = proba
    return out
