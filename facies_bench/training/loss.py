"""The paper's loss (Eq. 1): focal loss weighted per sample by class and scene frequency.

``L_i = -alpha * w_c(i) * w_s(i) * sum_k y_ik (1 - p_ik)^gamma log p_ik`` with smoothed one-hot
targets ``y = onehot * (1 - s) + s / K``, probabilities clipped to ``[eps, 1 - eps]`` and the
Keras "auto" reduction ``sum_i(w_i L_i) / batch_size`` (the weights are not normalised).
"""

from __future__ import annotations

import numpy as np
import torch


def sample_weights(labels: np.ndarray, scenes: np.ndarray, *, class_weights: bool = True, scene_weights: bool = True) -> np.ndarray:
    """Per-sample weights ``N / N_c(i) * N / N_s(i)`` (Eq. 1; unnormalised, as the authors).

    Args:
        labels: (N,) class codes of the training samples (no pruned samples).
        scenes: (N,) scene codes.
        class_weights: include the class factor.
        scene_weights: include the scene factor.

    Returns:
        (N,) float32 weights.
    """
    labels = np.asarray(labels)
    scenes = np.asarray(scenes)
    if labels.shape != scenes.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and scenes {scenes.shape} must be 1-D arrays of the same length.")
    if labels.size and labels.min() < 0:
        raise ValueError("labels contain pruned samples (-1); drop them before computing sample weights.")
    n = float(labels.size)
    w = np.ones(labels.shape, np.float64)
    if class_weights and labels.size:
        _, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
        w *= n / counts[inv]
    if scene_weights and scenes.size:
        _, inv, counts = np.unique(scenes, return_inverse=True, return_counts=True)
        w *= n / counts[inv]
    return w.astype(np.float32)


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, *, sample_weight: torch.Tensor | None = None,
               gamma: float = 2.0, alpha: float = 1.0, label_smoothing: float = 0.1, eps: float = 1e-7,
               reduction: str = "batch_mean") -> torch.Tensor:
    """Focal loss on logits, as the authors' Keras loss.

    Args:
        logits: (B, K) scores (softmax is applied here, in float32).
        targets: (B,) int class codes.
        sample_weight: (B,) weights, or None for 1.
        gamma: focusing parameter.
        alpha: constant factor.
        label_smoothing: ``s`` in ``y * (1 - s) + s / K``.
        eps: probabilities are clipped to ``[eps, 1 - eps]``.
        reduction: ``"batch_mean"`` (Keras "auto": ``sum(w_i L_i) / B``), ``"sum"`` or
            ``"none"`` ((B,) weighted per-sample losses).

    Returns:
        A scalar tensor (or (B,) for ``reduction="none"``).
    """
    k = logits.shape[1]
    p = torch.softmax(logits.float(), dim=1).clamp(eps, 1.0 - eps)
    y = torch.nn.functional.one_hot(targets.long(), k).to(p.dtype)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + label_smoothing / k
    per_sample = -alpha * (y * (1.0 - p).pow(gamma) * torch.log(p)).sum(dim=1)
    if sample_weight is not None:
        per_sample = per_sample * sample_weight.to(per_sample.dtype)
    if reduction == "none":
        return per_sample
    if reduction == "sum":
        return per_sample.sum()
    if reduction == "batch_mean":
        return per_sample.sum() / max(1, per_sample.shape[0])
    raise ValueError(f"Unknown reduction {reduction!r}. Valid: batch_mean, sum, none.")

