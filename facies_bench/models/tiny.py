"""Tiny ``test_*`` models for fast tests of the harness (registered on import of ``facies_bench.models``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from facies_bench import schema
from facies_bench.models._registry import register_model
from facies_bench.models.estimators import centre_pixel_features, expand_proba, labelled

if TYPE_CHECKING:  # training sits above models; for annotations only
    from facies_bench.training.split import ArraySplit


class TinyCNN(nn.Module):
    """One 3x3 conv block, then the centre pixel's activations and a global average, then a linear layer."""

    def __init__(self, in_channels: int, n_classes: int = schema.N_CLASSES, *, width: int = 8):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.fc = nn.Linear(2 * width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, K) of normalised (B, C, 33, 33) patches."""
        f = self.block(x)
        centre = f[:, :, f.shape[2] // 2, f.shape[3] // 2]
        return self.fc(torch.cat([centre, f.mean(dim=(2, 3))], dim=1))


@register_model("test_cnn", hparams={"width": 8})
def build_test_cnn(in_channels: int, n_classes: int = schema.N_CLASSES, *, width: int = 8) -> TinyCNN:
    """Tiny CNN (one conv block) for tests; trains in well under a second on a tiny store."""
    return TinyCNN(in_channels, n_classes, width=width)


@register_model("test_logreg", hparams={"max_iter": 200})
class TestLogReg:
    """Logistic regression on the standardised centre pixel's features (estimator, for tests)."""

    __test__ = False  # not a pytest class

    def __init__(self, *, max_iter: int = 200, n_classes: int = schema.N_CLASSES):
        self.max_iter = max_iter
        self.n_classes = n_classes

    def fit(self, train: ArraySplit, validation: ArraySplit) -> TestLogReg:
        """Fit a logistic regression on the centre-pixel features of ``train``."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        keep = labelled(train)
        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(max_iter=self.max_iter))
        self.model_.fit(centre_pixel_features(train.patches[keep]), np.asarray(train.labels)[keep])
        return self

    def predict_proba(self, split: ArraySplit) -> np.ndarray:
        """Class probabilities (N, K) of ``split``'s patches."""
        proba = self.model_.predict_proba(centre_pixel_features(split.patches))
        return expand_proba(proba, self.model_.classes_, self.n_classes)
