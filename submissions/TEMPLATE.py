"""Template submission: copy this file, rename the model, change the network, then run these.

    facies-bench check my_model.py                 # the contract on a tiny store, in seconds
    facies-bench evaluate my_model.py --quick -o runs/my_model_quick
    facies-bench evaluate my_model.py --features 4 --seeds 3 -o runs/my_model

A submission is one Python file that registers exactly ONE model.  This one is a torch model:
a builder ``(in_channels, n_classes, **hparams) -> nn.Module`` mapping (B, C, 33, 33) min-max
normalised patches to (B, n_classes) logits (no softmax).  The harness wraps it with the store's
normalisation, trains it with the paper's recipe (focal loss, Eq. 1 weights, augmentation,
Adam + cosine decay, best validation mean IoU), and keeps the fold checkpoints.

Only import from the standard library, numpy, torch, timm, scikit-learn and facies_bench: the
leaderboard runs submissions in a clean environment.  Do not read files or the network.
"""

from __future__ import annotations

import torch
from torch import nn

from facies_bench.models import register_model


class TemplateCNN(nn.Module):
    """Two 3x3 convolution blocks, the centre pixel's activations and a global max, then a linear head."""

    def __init__(self, in_channels: int, n_classes: int, *, width: int = 32, dropout: float = 0.3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ELU(),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ELU(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, K) of normalised (B, C, 33, 33) patches."""
        f = self.features(x)                                   # (B, width, H, W)
        centre = f[:, :, f.shape[2] // 2, f.shape[3] // 2]     # the labelled pixel is the centre
        pooled = f.amax(dim=(2, 3))                            # context from the whole patch
        return self.head(torch.cat([centre, pooled], dim=1))   # (B, n_classes) logits


# The registry name goes into results and the leaderboard: use "family_variant".
# `hparams` are the builder's defaults; `recipe` overrides fields of the standard training
# recipe (facies_bench.training.TrainingRecipe), e.g. {"lr": 3e-4, "batch_size": 256}.
@register_model("template_cnn", hparams={"width": 32, "dropout": 0.3}, recipe={})
def build_template_cnn(in_channels: int, n_classes: int, *, width: int = 32, dropout: float = 0.3) -> nn.Module:
    """Template CNN (copy and rename me)."""
    return TemplateCNN(in_channels, n_classes, width=width, dropout=dropout)
