"""Baseline submission: a timm ResNet adapted to C input features and 33x33 patches.

Shows that any timm model plugs in: ``timm.create_model(name, pretrained=False, in_chans=C,
num_classes=8)`` already adapts the first convolution and the classifier; for 33x33 inputs the
stem's max pooling is removed (and the stem stride can be set to 1), so that the last stage
still sees a 3x3 (or 5x5) map instead of a single pixel.  Trained with the standard recipe.

    facies-bench evaluate baselines/timm_backbone.py --quick -o runs/timm_resnet10t
"""

from __future__ import annotations

import timm
from torch import nn

from facies_bench.models import register_model


def adapt_to_small_patches(model: nn.Module, *, stem_stride: int = 2) -> nn.Module:
    """Set the stride of the first strided convolution to ``stem_stride`` and drop the stem max pooling."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.stride != (1, 1):
            module.stride = (stem_stride, stem_stride)
            break
    if isinstance(getattr(model, "maxpool", None), nn.Module):
        model.maxpool = nn.Identity()
    return model


@register_model("timm_resnet10t", hparams={"timm_name": "resnet10t", "stem_stride": 2, "drop_rate": 0.0})
def build_timm_backbone(in_channels: int, n_classes: int, *, timm_name: str = "resnet10t", stem_stride: int = 2,
                        drop_rate: float = 0.0) -> nn.Module:
    """Timm ResNet-10-T (tiered stem) without stem max pooling, for 33x33 patches of C features."""
    model = timm.create_model(timm_name, pretrained=False, in_chans=in_channels, num_classes=n_classes, drop_rate=drop_rate)
    return adapt_to_small_patches(model, stem_stride=stem_stride)
