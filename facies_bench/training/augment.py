"""On-the-fly augmentation of a whole batch with a few tensor operations (no per-sample Python).

Per sample: a random left-right flip, up-down flip and multiple of 90 degrees (the three are
composed into one of the 8 symmetries of the square and applied with a single ``gather``), a
contrast factor around each channel's patch mean (``tf.image.adjust_contrast``) and a
brightness shift (``tf.image.adjust_brightness``), on all features.  Labels are unchanged: the
centre pixel stays the centre pixel under these symmetries of an odd-sized square patch.
"""

from __future__ import annotations

import torch

_PERMUTATIONS: dict[tuple[int, int, str], torch.Tensor] = {}


def _permutations(h: int, w: int, device: torch.device) -> torch.Tensor:
    """(16, h*w) gather indices for (left-right flip, up-down flip, k quarter turns) = code lr*8 + ud*4 + k."""
    key = (h, w, str(device))
    if key not in _PERMUTATIONS:
        grid = torch.arange(h * w).view(h, w)
        perms = []
        for lr in (0, 1):
            for ud in (0, 1):
                for k in range(4):
                    t = grid.flip(1) if lr else grid
                    t = t.flip(0) if ud else t
                    perms.append(torch.rot90(t, k, (0, 1)).reshape(-1))
        _PERMUTATIONS[key] = torch.stack(perms).to(device)
    return _PERMUTATIONS[key]


def augment_batch(x: torch.Tensor, rng: torch.Generator, *, brightness: float = 0.01,
                  contrast: tuple[float, float] | None = (0.95, 1.05), flips: bool = True, rot90: bool = True) -> torch.Tensor:
    """Randomly augment a batch of patches.

    Args:
        x: (B, C, H, W) float patches (normalised features in the standard recipe).
        rng: a CPU ``torch.Generator``; all random draws come from it.
        brightness: shifts drawn from U(-brightness, brightness), one per sample, added to all
            channels and pixels; 0 disables.
        contrast: factors drawn from U(low, high), one per sample: each channel becomes
            ``(x - mean) * f + mean`` with ``mean`` its spatial mean; None disables.
        flips: random left-right and up-down flips (probability 1/2 each).
        rot90: random rotation by 0, 90, 180 or 270 degrees (requires H == W).

    Returns:
        A new (B, C, H, W) tensor (contiguous NCHW); ``x`` is not modified.
    """
    if x.ndim != 4:
        raise ValueError(f"augment_batch expects (B, C, H, W) patches; got shape {tuple(x.shape)}.")
    b, c, h, w = x.shape
    out = x
    if flips or rot90:
        if rot90 and h != w:
            raise ValueError(f"rot90 needs square patches; got {h}x{w}.")
        lr_ud = torch.randint(0, 4, (b,), generator=rng) if flips else torch.zeros(b, dtype=torch.long)
        k = torch.randint(0, 4, (b,), generator=rng) if rot90 else torch.zeros(b, dtype=torch.long)
        code = (lr_ud * 4 + k).to(x.device)
        index = _permutations(h, w, x.device)[code].unsqueeze(1).expand(b, c, h * w)
        out = torch.gather(x.reshape(b, c, h * w), 2, index).view(b, c, h, w)
    if contrast is not None or brightness:
        low, high = contrast if contrast is not None else (1.0, 1.0)
        factor = (torch.rand(b, 1, 1, 1, generator=rng) * (high - low) + low).to(x.device, x.dtype)
        shift = ((torch.rand(b, 1, 1, 1, generator=rng) * 2 - 1) * brightness).to(x.device, x.dtype)
        if contrast is not None:
            offset = out.mean(dim=(2, 3), keepdim=True) * (1 - factor) + shift
            out = torch.addcmul(offset, out, factor)
        else:
            out = out + shift
    elif out is x:
        out = x.clone()
    return out
