from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from facies_bench.training import focal_loss, sample_weights


def _focal_by_hand(logits, targets, weights, gamma=2.0, alpha=1.0, smoothing=0.1, eps=1e-7):
    logits = np.asarray(logits, np.float64)
    k = logits.shape[1]
    total = 0.0
    for row, t, w in zip(logits, targets, weights, strict=True):
        p = np.exp(row - row.max())
        p = np.clip(p / p.sum(), eps, 1 - eps)
        y = np.full(k, smoothing / k)
        y[t] += 1 - smoothing
        total += w * -alpha * sum(y[j] * (1 - p[j]) ** gamma * math.log(p[j]) for j in range(k))
    return total / len(logits)


def test_uniform_logits_closed_form():
    # p = 1/8 for every class: each sample's loss is (7/8)^2 * ln 8 (smoothed targets sum to 1).
    logits = torch.zeros(3, 8)
    w = torch.tensor([1.0, 2.0, 5.0])
    loss = focal_loss(logits, torch.tensor([0, 3, 7]), sample_weight=w)
    assert loss.item() == pytest.approx((1 + 2 + 5) * (7 / 8) ** 2 * math.log(8) / 3, rel=1e-6)


def test_matches_hand_computation():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3, size=(5, 8)).astype(np.float32)
    logits[0, 2] = 40.0  # a saturated prediction exercises the clipping
    targets = np.array([2, 0, 7, 7, 4])
    weights = np.array([1.0, 0.5, 3.0, 8.0, 2.0], np.float32)
    got = focal_loss(torch.from_numpy(logits), torch.from_numpy(targets), sample_weight=torch.from_numpy(weights))
    assert got.item() == pytest.approx(_focal_by_hand(logits, targets, weights), rel=1e-5)
    per_sample = focal_loss(torch.from_numpy(logits), torch.from_numpy(targets), reduction="none")
    assert per_sample.shape == (5,)
    assert per_sample.sum().item() / 5 == pytest.approx(_focal_by_hand(logits, targets, np.ones(5)), rel=1e-5)


def test_gamma0_no_smoothing_is_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(6, 8)
    targets = torch.randint(0, 8, (6,))
    got = focal_loss(logits, targets, gamma=0.0, label_smoothing=0.0)
    torch.testing.assert_close(got, torch.nn.functional.cross_entropy(logits, targets), rtol=1e-5, atol=1e-6)


def test_gradient_flows_in_bf16_logits():
    logits = torch.randn(4, 8, dtype=torch.bfloat16, requires_grad=True)
    loss = focal_loss(logits, torch.tensor([0, 1, 2, 3]))
    assert loss.dtype == torch.float32
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad.float()).all()


def test_sample_weights_eq1():
    labels = np.array([0, 0, 1, 2])
    scenes = np.array([0, 1, 1, 1])
    # class: N/N_c = [2, 2, 4, 4]; scene: N/N_s = [4, 4/3, 4/3, 4/3]
    np.testing.assert_allclose(sample_weights(labels, scenes), [8, 8 / 3, 16 / 3, 16 / 3], rtol=1e-6)
    np.testing.assert_allclose(sample_weights(labels, scenes, scene_weights=False), [2, 2, 4, 4])
    np.testing.assert_allclose(sample_weights(labels, scenes, class_weights=False, scene_weights=False), 1)
    with pytest.raises(ValueError, match="pruned"):
        sample_weights(np.array([0, -1]), np.array([0, 0]))
