from __future__ import annotations

import pytest
import torch

from facies_bench.training import augment_batch


def _batch(b=64, c=3, size=33):
    return torch.randn(b, c, size, size, generator=torch.Generator().manual_seed(1))


def test_geometric_preserves_values_and_centre():
    x = _batch()
    out = augment_batch(x, torch.Generator().manual_seed(0), brightness=0.0, contrast=None)
    assert out.shape == x.shape and out.is_contiguous()
    torch.testing.assert_close(out.flatten(2).sort(dim=2).values, x.flatten(2).sort(dim=2).values, rtol=0, atol=0)
    torch.testing.assert_close(out[:, :, 16, 16], x[:, :, 16, 16], rtol=0, atol=0)  # the labelled pixel stays put
    # every sample is one of the 8 symmetries of the square, the same for all its channels
    seen = set()
    for i in range(len(x)):
        matches = [j for j, t in enumerate(_symmetries(x[i])) if torch.equal(t, out[i])]
        assert matches, f"sample {i} is not a flip/rotation of its input"
        seen.add(matches[0])
    assert seen == set(range(8))


def _symmetries(p):
    out = []
    for flip in (False, True):
        q = p.flip(-1) if flip else p
        out.extend(torch.rot90(q, k, (-2, -1)) for k in range(4))
    return out


def test_flips_only_and_rot90_only():
    x = _batch(b=128)
    flips = augment_batch(x, torch.Generator().manual_seed(0), brightness=0.0, contrast=None, rot90=False)
    allowed = [x, x.flip(-1), x.flip(-2), x.flip(-1).flip(-2)]
    assert all(any(torch.equal(flips[i], a[i]) for a in allowed) for i in range(len(x)))
    rots = augment_batch(x, torch.Generator().manual_seed(0), brightness=0.0, contrast=None, flips=False)
    assert all(any(torch.equal(rots[i], torch.rot90(x[i], k, (-2, -1))) for k in range(4)) for i in range(len(x)))


def test_brightness_and_contrast_bounds():
    x = _batch(b=256)
    gen = torch.Generator().manual_seed(0)
    bright = augment_batch(x, gen, brightness=0.01, contrast=None, flips=False, rot90=False)
    delta = bright - x
    per_sample = delta.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample), atol=1e-6)  # one shift per sample
    assert per_sample.abs().max() <= 0.01 + 1e-6 and per_sample[:, 0].std() > 0.003
    contr = augment_batch(x, gen, brightness=0.0, contrast=(0.95, 1.05), flips=False, rot90=False)
    mean = x.mean(dim=(2, 3), keepdim=True)
    torch.testing.assert_close(contr.mean(dim=(2, 3), keepdim=True), mean, atol=1e-5, rtol=0)
    centred = x - mean
    factor = ((contr - mean) * centred).sum(dim=(2, 3)) / (centred * centred).sum(dim=(2, 3))  # (B, C) least squares
    torch.testing.assert_close(contr - mean, centred * factor[..., None, None], atol=1e-5, rtol=0)
    torch.testing.assert_close(factor, factor[:, :1].expand_as(factor), atol=1e-5, rtol=0)  # one factor per sample
    assert factor.min() >= 0.95 - 1e-3 and factor.max() <= 1.05 + 1e-3 and factor.std() > 0.02


def test_deterministic_and_input_untouched():
    x = _batch()
    before = x.clone()
    a = augment_batch(x, torch.Generator().manual_seed(7))
    b = augment_batch(x, torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and torch.equal(x, before)
    assert not torch.equal(a, augment_batch(x, torch.Generator().manual_seed(8)))
    assert augment_batch(x, torch.Generator(), brightness=0, contrast=None, flips=False, rot90=False) is not x


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="square"):
        augment_batch(torch.zeros(2, 3, 33, 35), torch.Generator())
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        augment_batch(torch.zeros(3, 33, 33), torch.Generator())
