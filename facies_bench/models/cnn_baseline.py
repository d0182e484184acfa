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

from typing import Any

import torch
from torch import nn

from facies_bench import schema

#: Keras BatchNormalization defaults.
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def elu_exp(x: torch.Tensor) -> torch.Tensor:
    """ELU (alpha 1) as ``max(x, exp(min(x, 0)) - 1)``: one vectorised ``exp`` and in-place ops.

    ATen's ELU goes through ``expm1``, which is not vectorised on AVX-512 CPUs and made ELU the
    most expensive layer of the network; ``exp(x) - 1`` differs from ``expm1(x)`` by less than
    1e-7 absolute.  No autograd (see :class:`FastELU`).
    """
    y = torch.clamp(x, max=0.0).exp_().sub_(1.0)
    return torch.maximum(y, x, out=y)


class _ELUFunction(torch.autograd.Function):
    """:func:`elu_exp` with ATen's ELU backward computed from the saved output."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = elu_exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.elu_backward(grad, 1.0, 1, 1, True, y)


class FastELU(nn.ELU):
    """``nn.ELU(alpha=1)`` computed with :func:`elu_exp` (same module type, same state dict)."""

    def __init__(self) -> None:
        super().__init__(alpha=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ELU, through the fused kernel when it applies."""
        if self.alpha != 1.0 or self.inplace or x.dtype not in (torch.float32, torch.bfloat16):
            return super().forward(x)
        if torch.is_grad_enabled() and x.requires_grad:
            return _ELUFunction.apply(x)
        return elu_exp(x)


class _CentreAndPool(torch.autograd.Function):
    """(centre pixel, max pool) of one feature map with a single full-size gradient buffer.

    Autograd would give the centre slice its own zero-filled (B, C, H, W) gradient and add it
    to the pooling gradient; here the centre gradient is added in place into the pooling one.
    """

    @staticmethod
    def forward(ctx: Any, f: torch.Tensor, kernel: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
        pooled, indices = torch.ops.aten.max_pool2d_with_indices(f, [kernel, kernel], [stride, stride], [0, 0], [1, 1], False)
        centre = f[:, :, f.shape[2] // 2, f.shape[3] // 2].clone()
        ctx.save_for_backward(f, indices)
        ctx.kernel, ctx.stride = kernel, stride
        ctx.mark_non_differentiable(indices)
        return centre, pooled

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_centre: torch.Tensor, grad_pooled: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        f, indices = ctx.saved_tensors
        k, s = ctx.kernel, ctx.stride
        grad = torch.ops.aten.max_pool2d_with_indices_backward(grad_pooled, f, [k, k], [s, s], [0, 0], [1, 1], False, indices)
        grad[:, :, f.shape[2] // 2, f.shape[3] // 2] += grad_centre.to(grad.dtype)
        return grad, None, None


class ConvBlock(nn.Sequential):
    """3x3 conv (same padding, bias) -> BatchNorm (Keras defaults) -> ELU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=True),
            nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM),
            FastELU(),
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
        self.filters = int(filters)
        self.hidden = int(hidden)
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
        if torch.is_grad_enabled() and f1.requires_grad and _plain_pool(self.pool):
            c1, pooled = _CentreAndPool.apply(f1, self.pool.kernel_size, self.pool.stride)
        else:
            c1, pooled = f1[:, :, f1.shape[2] // 2, f1.shape[3] // 2], self.pool(f1)
        f2 = self.scale2(pooled)
        c2 = f2[:, :, f2.shape[2] // 2, f2.shape[3] // 2]
        g = torch.amax(f2, dim=(2, 3))
        return torch.cat([c1, c2, g], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, K) of the centre pixels of normalised (B, C, 33, 33) patches."""
        return self.head(self.features(x))


def _plain_pool(pool: nn.Module) -> bool:
    return (type(pool) is nn.MaxPool2d and isinstance(pool.kernel_size, int) and pool.stride == pool.kernel_size
            and pool.padding == 0 and pool.dilation == 1 and not pool.ceil_mode and not pool.return_indices)


def reset_parameters_keras(module: nn.Module) -> None:
    """Keras initialisation: Glorot-uniform kernels, zero biases, BN gamma 1 / beta 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()


def build_paper_cnn(in_channels: int, n_classes: int = schema.N_CLASSES, **hparams: Any) -> PaperCNN:
    """The paper's CNN (Fig. 3): 200,072 parameters for C = 11 (as Keras counts them)."""
    return PaperCNN(in_channels, n_classes, **hparams)


class CentrePixelOnly(nn.Module):
    """A backbone fed patches whose every pixel is the centre pixel: the same model, without context.

    The context ablation of issue 15 ("a model with 33x33 context beats the same model on the
    centre pixel"): architecture, parameters, recipe and augmentation stay those of the backbone;
    only the neighbourhood's information is gone.
    """

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's logits for (N, C, H, W) patches reduced to their centre pixel."""
        c_row, c_col = x.shape[-2] // 2, x.shape[-1] // 2
        return self.backbone(x[..., c_row:c_row + 1, c_col:c_col + 1].expand_as(x).contiguous())


def build_paper_cnn_centre_only(in_channels: int, n_classes: int = schema.N_CLASSES, **hparams: Any) -> CentrePixelOnly:
    """The paper's CNN (Fig. 3) on the centre pixel alone, broadcast over the patch (200,072 parameters)."""
    return CentrePixelOnly(build_paper_cnn(in_channels, n_classes, **hparams))


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """Parameter count as Keras reports it: weights plus batch-norm moving means and variances.

    Args:
        module: any torch module.
        trainable_only: count only parameters with ``requires_grad``.
    """
    n = sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
    if not trainable_only:
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None and m.running_var is not None:
                n += m.running_mean.numel() + m.running_var.numel()
    return n
