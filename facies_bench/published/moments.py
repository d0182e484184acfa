"""What a trained network's first layer says about the data it was trained on.

For the first 3x3 convolution (kernel ``K``, bias ``b``) followed by batch normalisation with
running mean ``mu`` and running variance ``var``, averaged over every output position of the
33 x 33 patches the network was trained on:

* ``mu_j = sum_c S_jc E[x_c] + b_j``, where ``S_jc`` sums ``K_j`` over the 9 taps, each tap weighted
  by the share of output positions at which it falls inside the zero-padded patch
  (``(32/33)^k`` for a tap ``k`` steps off-centre).  The 64 running means therefore pin down the
  mean of every (normalised) input channel by least squares: :func:`fit_input_means`;
* ``var_j = E_p[S_j(p)^T Cov(x) S_j(p)] + Var_p(S_j(p)^T m)`` when every channel is
  smooth over three pixels, where ``S_j(p)`` sums ``K_j`` over the taps that fall inside the
  zero-padded patch at position ``p`` (9 inside, 6 on an edge, 4 in a corner) and ``m`` are the
  fitted means.  The channel covariance has ``C (C + 1) / 2`` unknowns, 66 for 11 channels, so
  it is fitted jointly over several models trained on similar data: :func:`fit_input_covariance`.
  It is an approximation (textured optical channels are not smooth at 10 m), good to about
  10 % in the standard deviations; a binary channel's fitted spread checks it (a 0/1 mask of
  mean ``p`` has standard deviation ``sqrt(p (1 - p))``).

Nothing here needs data: the published weights are the only input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from facies_bench import schema


@dataclass(frozen=True)
class FirstLayer:
    """A network's first convolution and the batch norm after it."""

    kernel: np.ndarray  #: (64, C, 3, 3), PyTorch layout
    bias: np.ndarray  #: (64,)
    running_mean: np.ndarray  #: (64,)
    running_var: np.ndarray  #: (64,)

    @property
    def in_channels(self) -> int:
        """Input channels of the layer."""
        return int(self.kernel.shape[1])


@dataclass(frozen=True)
class MeanFit:
    """Input channel means implied by a first layer's running means."""

    means: np.ndarray  #: (C,) mean of each normalised input channel
    r2: float  #: share of the running means' variance the fit explains


def first_layer_of(model: Any) -> FirstLayer:
    """The first conv + batch norm of a :class:`~facies_bench.models.cnn_baseline.PaperCNN`.

    Also accepts a :class:`~facies_bench.models.wrapper.FaciesModel` around one.
    """
    backbone = getattr(model, "backbone", model)
    conv, bn = backbone.scale1[0][0], backbone.scale1[0][1]
    as_np = lambda t: t.detach().cpu().double().numpy()  # noqa: E731
    return FirstLayer(as_np(conv.weight), as_np(conv.bias), as_np(bn.running_mean), as_np(bn.running_var))


def fit_input_means(layer: FirstLayer, *, patch_size: int = schema.PATCH_SIZE) -> MeanFit:
    """Least-squares channel means from the running means (see the module docstring)."""
    shares, sums = _position_tap_sums(layer.kernel, patch_size)
    s = np.einsum("t,toc->oc", shares, sums)  # each tap weighted by the share of positions where it is inside
    target = layer.running_mean - layer.bias
    means, *_ = np.linalg.lstsq(s, target, rcond=None)
    resid = target - s @ means
    spread = float(((layer.running_mean - layer.running_mean.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / spread if spread > 0 else float("nan")  # an untrained layer has no spread
    return MeanFit(means=means, r2=r2)


def _position_tap_sums(kernel: np.ndarray, patch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(T,) share of output positions of each border type and (T, 64, C) tap sums inside the patch there."""
    inner = patch_size - 2
    shares, sums = [], []
    for rows in (slice(0, 3), slice(1, 3), slice(0, 2)):  # interior, top edge, bottom edge
        for cols in (slice(0, 3), slice(1, 3), slice(0, 2)):
            n_r = inner if rows == slice(0, 3) else 1
            n_c = inner if cols == slice(0, 3) else 1
            shares.append(n_r * n_c / patch_size**2)
            sums.append(kernel[:, :, rows, cols].sum(axis=(2, 3)))
    return np.asarray(shares), np.asarray(sums)


def fit_input_covariance(layers: Sequence[FirstLayer], *, patch_size: int = schema.PATCH_SIZE) -> np.ndarray:
    """(C, C) covariance of the normalised input channels shared by ``layers`` (see the module docstring).

    Raises:
        ValueError: the layers disagree on C, or there are fewer running variances than unknowns.
    """
    channels = {layer.in_channels for layer in layers}
    if len(channels) != 1:
        raise ValueError(f"The layers have different input channel counts {sorted(channels)}; fit each set separately.")
    c = channels.pop()
    upper = np.triu_indices(c)
    double = 2 * np.ones((c, c)) - np.eye(c)  # off-diagonal pairs count twice in s^T Cov s
    rows, targets = [], []
    for layer in layers:
        m = fit_input_means(layer, patch_size=patch_size).means
        shares, sums = _position_tap_sums(layer.kernel, patch_size)  # (T,), (T, 64, C)
        second = np.einsum("t,toc,tod->ocd", shares, sums, sums)  # E_p[S S^T] per output
        along_mean = sums @ m  # (T, 64)
        spread_of_mean = shares @ along_mean**2 - (shares @ along_mean) ** 2
        rows.extend((second * double)[:, upper[0], upper[1]])
        targets.append(layer.running_var - spread_of_mean)
    a, y = np.asarray(rows), np.concatenate(targets)
    if a.shape[0] < a.shape[1]:
        raise ValueError(f"{a.shape[0]} running variances cannot determine {a.shape[1]} covariance entries; pass more models.")
    flat, *_ = np.linalg.lstsq(a, y, rcond=None)
    cov = np.zeros((c, c))
    cov[upper] = flat
    return cov + cov.T - np.diag(np.diag(cov))
