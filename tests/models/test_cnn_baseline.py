from __future__ import annotations

import pytest
import torch
from torch import nn

from facies_bench.models import PaperCNN, build_paper_cnn, count_parameters


@pytest.mark.parametrize(("channels", "expected"), [(6, 197_192), (8, 198_344), (10, 199_496), (11, 200_072)])
def test_parameter_counts_match_keras(channels, expected):
    model = build_paper_cnn(channels)
    assert count_parameters(model) == expected
    assert count_parameters(model, trainable_only=True) == expected - 768


@pytest.mark.parametrize("size", [33, 45])
def test_output_shape_and_centre_slices(size):
    torch.manual_seed(0)
    model = PaperCNN(11).eval()
    x = torch.randn(3, 11, size, size)
    with torch.no_grad():
        assert model(x).shape == (3, 8)
        latent = model.features(x)
        f1 = model.scale1(x)
        f2 = model.scale2(model.pool(f1))
    assert latent.shape == (3, 192)
    assert f2.shape[-1] == size // 3
    torch.testing.assert_close(latent[:, :64], f1[:, :, size // 2, size // 2])
    torch.testing.assert_close(latent[:, 64:128], f2[:, :, (size // 3) // 2, (size // 3) // 2])
    torch.testing.assert_close(latent[:, 128:], f2.amax(dim=(2, 3)))


def test_keras_conventions():
    model = PaperCNN(6)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 6 and all(b.eps == 1e-3 and b.momentum == 0.01 for b in bns)
    assert sum(isinstance(m, nn.Dropout) and m.p == 0.5 for m in model.modules()) == 3
    assert all(torch.count_nonzero(m.bias) == 0 for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    conv = model.scale1[1][0]  # Glorot-uniform bound sqrt(6 / (fan_in + fan_out))
    bound = (6 / (64 * 9 + 64 * 9)) ** 0.5
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound


def test_dropout_only_in_training():
    torch.manual_seed(0)
    model = PaperCNN(6)
    x = torch.randn(4, 6, 33, 33)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x))
        model.train()
        assert not torch.equal(model(x), model(x))
