from __future__ import annotations

import math

import numpy as np
import pytest

from facies_bench.errors import UnknownNameError
from facies_bench.training import TrainingRecipe, mean_iou_score
from facies_bench.training.train import cosine_factor


def test_defaults_are_the_papers():
    r = TrainingRecipe()
    assert (r.epochs, r.batch_size, r.lr, r.lr_final, r.adam_eps) == (1000, 512, 1e-3, 0.0, 1e-7)
    assert (r.focal_gamma, r.focal_alpha, r.label_smoothing, r.clip_eps) == (2.0, 1.0, 0.1, 1e-7)
    assert (r.brightness, r.contrast, r.flips, r.rot90, r.precision) == (0.01, (0.95, 1.05), True, True, "fp32")
    assert r.class_weights and r.scene_weights


def test_quick_replace_and_round_trip():
    q = TrainingRecipe.quick()
    assert q.epochs < 20
    r = q.replace(epochs=2, precision="bf16")
    assert r.epochs == 2 and r.precision == "bf16" and q.epochs != 2
    assert TrainingRecipe.from_dict(r.to_dict()) == r
    assert r.to_dict()["contrast"] == [0.95, 1.05]
    with pytest.raises(UnknownNameError, match="'epoch'.*Valid: epochs"):
        q.replace(epoch=3)
    with pytest.raises(ValueError, match="precision='fp16'"):
        q.replace(precision="fp16")
    with pytest.raises(ValueError, match="epochs=0"):
        TrainingRecipe(epochs=0)


def test_cosine_decay_is_keras():
    assert cosine_factor(0, 100) == 1.0
    assert cosine_factor(50, 100) == pytest.approx(0.5)
    assert cosine_factor(100, 100) == pytest.approx(0.0, abs=1e-12)
    assert cosine_factor(150, 100) == pytest.approx(0.0, abs=1e-12)
    assert cosine_factor(25, 100, 0.1) == pytest.approx(0.9 * 0.5 * (1 + math.cos(math.pi / 4)) + 0.1)


def test_mean_iou_is_the_evaluators():
    from sklearn.metrics import jaccard_score

    from facies_bench.evaluation.metrics import confusion_counts, scores_from_confusion

    y_true = np.array([0, 0, 1, 1, 2, 5])
    y_pred = np.array([0, 1, 1, 1, 0, 3])  # class 3 is predicted but has no true sample: not averaged
    expected = jaccard_score(y_true, y_pred, labels=np.unique(y_true), average="macro")
    assert mean_iou_score(y_true, y_pred) == pytest.approx(expected)
    assert mean_iou_score(y_true, y_pred) == scores_from_confusion(confusion_counts(y_true, y_pred)).mean_iou
    assert expected != pytest.approx(jaccard_score(y_true, y_pred, labels=np.union1d(y_true, y_pred), average="macro"))
