"""Baseline submission: gradient boosting on the centre pixel's features (no spatial context).

A scikit-learn ``HistGradientBoostingClassifier`` on the C features of each patch's centre
pixel, with the paper's class x scene sample weights (normalised to mean 1) and early stopping on
the protocol's validation fold.  It shows the estimator contract (``fit(train, validation)`` /
``predict_proba(split)``) and what a per-pixel classifier reaches without context.

    facies-bench evaluate baselines/hgb_centre_pixel.py --quick -o runs/hgb_centre_pixel
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from facies_bench.models import register_model
from facies_bench.models.estimators import centre_pixel_features, expand_proba
from facies_bench.training import ArraySplit, sample_weights


@register_model("hgb_centre_pixel", hparams={"max_iter": 300, "learning_rate": 0.1, "max_leaf_nodes": 31})
class CentrePixelHGB:
    """Histogram gradient boosting on the centre pixel's features (scikit-learn)."""

    def __init__(self, *, max_iter: int = 300, learning_rate: float = 0.1, max_leaf_nodes: int = 31,
                 random_state: int = 0, n_threads: int | None = 1, n_classes: int = 8):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.random_state = random_state
        self.n_threads = n_threads  # OpenMP threads; 1 avoids oversubscription when units run in parallel
        self.n_classes = n_classes

    def fit(self, train: ArraySplit, validation: ArraySplit) -> CentrePixelHGB:
        """Fit the gradient boosting on the labelled centre pixels of ``train``, with Eq. 1 sample weights."""
        train, validation = train.labelled(), validation.labelled()
        weights = sample_weights(train.labels, train.scene)
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
            early_stopping=len(validation) > 0, n_iter_no_change=20, random_state=self.random_state)
        val_kwargs = {}
        if len(validation):
            val_kwargs = {"X_val": centre_pixel_features(validation.patches), "y_val": validation.labels}
        with threadpool_limits(self.n_threads):
            self.model_.fit(centre_pixel_features(train.patches), train.labels, sample_weight=weights / weights.mean(), **val_kwargs)
        return self

    @property
    def n_parameters(self) -> int:
        """Leaves and split nodes of all trees (a size figure for the leaderboard)."""
        return int(sum(len(p.nodes) for tree in getattr(self.model_, "_predictors", []) for p in tree))

    def predict_proba(self, split: ArraySplit) -> np.ndarray:
        """Class probabilities (N, K) of ``split``'s patches."""
        with threadpool_limits(self.n_threads):
            proba = self.model_.predict_proba(centre_pixel_features(split.patches))
        return expand_proba(proba, self.model_.classes_, self.n_classes)
