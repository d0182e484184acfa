"""The standard training recipe: what the paper did, as one frozen, serialisable dataclass.

A submission may override fields through its registry entry
(``@register_model("my_cnn", recipe={"lr": 3e-4})``); the protocol may override others (the epoch
count, the precision).  Every run records ``recipe.to_dict()``.

The recipe is the vocabulary that model registrations (their overrides), training and the protocol
share, so it sits below all three (the layers in ``docs/contracts.md``);
:mod:`facies_bench.training.recipe` re-exports it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from facies_bench.errors import InvalidValueError, UnknownNameError

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainingRecipe:
    """Hyperparameters of the standard recipe (paper, Section 3; the authors' notebook).

    Attributes:
        epochs: passes over the training set (the paper: 1000).
        batch_size: samples per optimiser step (the paper: 512); the last batch may be smaller.
        lr: initial learning rate of Adam; it decays along a cosine to ``lr_final`` over
            ``epochs * batches_per_epoch`` steps (Keras ``CosineDecay``).
        lr_final: learning rate reached at the last step.
        adam_betas: Adam's beta1, beta2.
        adam_eps: Adam's epsilon (Keras default 1e-7).
        weight_decay: decoupled weight decay (AdamW); 0 for the paper's Adam.
        focal_gamma: focusing parameter of the focal loss.
        focal_alpha: constant factor of the focal loss.
        label_smoothing: targets become ``y * (1 - s) + s / K``.
        clip_eps: predicted probabilities are clipped to ``[clip_eps, 1 - clip_eps]``.
        class_weights: weight each sample by N / N_class (Eq. 1).
        scene_weights: weight each sample by N / N_scene (Eq. 1).
        brightness: brightness shift drawn from U(-b, b) per sample, added to all features
            (in normalised units).
        contrast: contrast factor range, drawn per sample and applied around each channel's
            patch mean (``tf.image.adjust_contrast``); ``None`` disables it.
        flips: random left-right and up-down flips.
        rot90: random multiples of 90-degree rotations.
        precision: ``"fp32"`` or ``"bf16"`` (``torch.autocast`` mixed precision).
        device: ``"cpu"``, ``"cuda"`` (falls back to CPU with a warning when unavailable) or
            ``"auto"`` (CUDA when available).
        num_threads: CPU threads for torch during training; ``None`` keeps the current setting.
        channels_last: run convolutions in channels-last memory format.
        bn_momentum: if set, the batch-norm momentum (PyTorch convention) used while training,
            whatever the model's own (the paper's CNN uses Keras' 0.99, i.e. 0.01 here, which
            leaves the running statistics near their initial values after a few steps; the
            quick profile uses 0.1).  The model's own value is restored afterwards.
        eval_batch_size: batch size for validation and prediction.
    """

    epochs: int = 1000
    batch_size: int = 512
    lr: float = 1e-3
    lr_final: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-7
    weight_decay: float = 0.0
    focal_gamma: float = 2.0
    focal_alpha: float = 1.0
    label_smoothing: float = 0.1
    clip_eps: float = 1e-7
    class_weights: bool = True
    scene_weights: bool = True
    brightness: float = 0.01
    contrast: tuple[float, float] | None = (0.95, 1.05)
    flips: bool = True
    rot90: bool = True
    precision: str = "fp32"
    device: str = "cpu"
    num_threads: int | None = None
    channels_last: bool = True
    bn_momentum: float | None = None
    eval_batch_size: int = 2048

    def __post_init__(self) -> None:
        # JSON round trips turn tuples into lists; keep the dataclass hashable and comparable.
        if isinstance(self.adam_betas, list):
            object.__setattr__(self, "adam_betas", tuple(self.adam_betas))
        if isinstance(self.contrast, list):
            object.__setattr__(self, "contrast", tuple(self.contrast))
        problems = []
        if int(self.epochs) < 1:
            problems.append(f"epochs={self.epochs!r} (must be >= 1)")
        if int(self.batch_size) < 1 or int(self.eval_batch_size) < 1:
            problems.append(f"batch_size={self.batch_size!r}, eval_batch_size={self.eval_batch_size!r} (must be >= 1)")
        if self.precision not in PRECISIONS:
            problems.append(f"precision={self.precision!r} (valid: {', '.join(PRECISIONS)})")
        if self.device not in ("cpu", "cuda", "auto") and not str(self.device).startswith("cuda:"):
            problems.append(f"device={self.device!r} (valid: cpu, cuda, cuda:N, auto)")
        if not 0.0 <= float(self.label_smoothing) < 1.0:
            problems.append(f"label_smoothing={self.label_smoothing!r} (must be in [0, 1))")
        if self.contrast is not None and (len(self.contrast) != 2 or not 0 <= self.contrast[0] <= self.contrast[1]):
            problems.append(f"contrast={self.contrast!r} (a (low, high) pair with 0 <= low <= high, or None)")
        if self.bn_momentum is not None and not 0.0 < float(self.bn_momentum) <= 1.0:
            problems.append(f"bn_momentum={self.bn_momentum!r} (must be in (0, 1] or None)")
        if float(self.brightness) < 0:
            problems.append(f"brightness={self.brightness!r} (must be >= 0)")
        if problems:
            msg = "Invalid training recipe: " + "; ".join(problems) + "."
            raise InvalidValueError(msg)

    @classmethod
    def quick(cls) -> TrainingRecipe:
        """A short profile for smoke runs: a six-fold run on a small synthetic store in minutes.

        Few epochs, smaller batches (more optimiser steps per epoch on small stores) and a
        higher learning rate; everything else as in the paper.
        """
        return cls(epochs=6, batch_size=128, lr=3e-3, bn_momentum=0.1)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of the recipe's fields."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **overrides: Any) -> TrainingRecipe:
        """A copy with some fields changed; unknown field names raise :class:`UnknownNameError`."""
        check_recipe_overrides(overrides)
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingRecipe:
        """Build a recipe from a dict; unknown field names raise :class:`UnknownNameError`."""
        check_recipe_overrides(values)
        return cls(**values)


def check_recipe_overrides(overrides: dict[str, Any], *, source: str = "recipe override") -> None:
    """Raise :class:`UnknownNameError` if ``overrides`` names a field the recipe does not have."""
    unknown = sorted(set(overrides) - set(TrainingRecipe.field_names()))
    if unknown:
        msg = (f"Unknown {source} field(s) {', '.join(map(repr, unknown))}. "
               f"Valid: {', '.join(TrainingRecipe.field_names())}.")
        raise UnknownNameError(msg)
