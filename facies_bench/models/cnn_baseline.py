"""The paper's CNN (Fig. 3; the authors' published Keras model), layer for layer.

Scale 1: three 3x3 convolutions (64 filters, zero "same" padding) each followed by batch norm
and ELU; the centre pixel's activations are sliced out (c1); 3x3 max pooling, stride 3.
Scale 2: three more such blocks; the centre pixel's activations (c2) and a global max (g).
``[c1, c2, g]`` -> dropout 0.5 -> dense 32 + ELU -> dropout -> dense 32 + ELU -> dropout ->
dense 8.  The module returns logits; softmax is applied outside (the Keras model ends in a
softmax).  Batch norm uses the Keras defaults (eps 1e-3, momentum 0.99, i.e. PyTorch 0.01).

The layer layout matches ``shared/reference/published_models/README.md`` so that
:mod:`facies_bench.models.keras_import` can load the published weights exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from facies_bench import schema

#: Keras BatchNormalization defaults.
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


class ConvBlock(nn.Sequential):
    """3x3 conv (same padding, bias) -> BatchNorm (Keras defaults) -> ELU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=True),
            nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM),
            nn.ELU(alpha=1.0),
        )


class PaperCNN(nn.Module):
    """The paper's multiscale VGG-like CNN.

    Args:
        in_channels: input features C (6, 8, 10 or 11 for the paper's feature sets).
        n_classes: output classes K.
        filters: convolution filters per layer (the paper: 64).
        hidden: width of the two hidden dense layers (the paper: 32).
        dropout: dropout rate at the three dropout sites (the paper: 0.5).

    Shapes:
        input (B, C, H, W) normalised patches with H, W >= 3 (33 in the benchmark; larger odd
        sizes such as 45 work too); output (B, K) logits.
    """

    def __init__(self, in_channels: int, n_classes: int = schema.N_CLASSES, *, filters: int = 64,
                 hidden: int = 32, dropout: float = 0.5):
        super().__init__()
        self.in_channels = int(in_channels)
        self.n_classes = int(n_classes)
        self.scale1 = nn.Sequential(ConvBlock(in_channels, filters), ConvBlock(filters, filters), ConvBlock(filters, filters))
        self.pool = nn.MaxPool2d(kernel_size=3, stride=3)
        self.scale2 = nn.Sequential(ConvBlock(filters, filters), ConvBlock(filters, filters), ConvBlock(filters, filters))
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(3 * filters, hidden), nn.ELU(alpha=1.0), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ELU(alpha=1.0), nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )
        reset_parameters_keras(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, 3 * filters) latent ``[c1, c2, g]`` before the first dropout."""
        f1 = self.scale1(x)
        c1 = f1[:, :, f1.shape[2] // 2, f1.shape[3] // 2]
        f2 = self.scale2(self.pool(f1))
        c2 = f2[:, :, f2.shape[2] // 2, f2.shape[3] // 2]
        g = torch.amax(f2, dim=(2, 3))
        return torch.cat([c1, c2, g], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def reset_parameters_keras(module: nn.Module) -> None:
    """Keras initialisation: Glorot-uniform kernels, zero biases, BN gamma 1 / beta 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()


def build_paper_cnn(in_channels: int, n_classes: int = schema.N_CLASSES, **hparams) -> PaperCNN:
    """The paper's CNN (Fig. 3): 200,072 parameters for C = 11 (as Keras counts them)."""
    return PaperCNN(in_channels, n_classes, **hparams)


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """Parameter count as Keras reports it: weights plus batch-norm moving means and variances.

    Args:
        module: any torch module.
        trainable_only: count only parameters with ``requires_grad``.
    """
    n = sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
    if not trainable_only:
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
                n += m.running_mean.numel() + m.running_var.numel()
    return n
