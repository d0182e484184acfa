"""The first-layer instrument on data whose answer is known, and the shipped normalisation estimate."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest
import torch

from facies_bench import schema
from facies_bench.fingerprint import fingerprint
from facies_bench.models.cnn_baseline import PaperCNN
from facies_bench.models.wrapper import FaciesModel
from facies_bench.published.moments import first_layer_of, fit_input_covariance, fit_input_means


def _calibrate_batchnorm(net: torch.nn.Module, x: np.ndarray) -> None:
    """Set every batch norm's running statistics to those of ``x`` (a cumulative average)."""
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    net.train()
    with torch.no_grad():
        for start in range(0, len(x), 256):
            net(torch.from_numpy(x[start:start + 256]))
    net.eval()


def _patches(rng, means, n=1024, *, constant=False):
    c = len(means)
    if constant:  # every patch flat: the smoothness assumption of the covariance fit holds exactly
        values = rng.uniform(0, 1, (n, c, 1, 1)) * 2 * np.asarray(means)[None, :, None, None]
        return np.broadcast_to(values, (n, c, 33, 33)).astype(np.float32).copy()
    return (rng.uniform(0, 2, (n, c, 33, 33)) * np.asarray(means)[None, :, None, None]).astype(np.float32)


def test_channel_means_are_recovered_from_the_running_means():
    rng = np.random.default_rng(0)
    means = rng.uniform(0.05, 0.9, 11)
    torch.manual_seed(0)
    net = PaperCNN(11)
    _calibrate_batchnorm(net, _patches(rng, means))
    fit = fit_input_means(first_layer_of(net))
    assert fit.r2 > 0.999
    np.testing.assert_allclose(fit.means, means, atol=0.01)


def test_channel_covariance_is_recovered_jointly_over_models():
    rng = np.random.default_rng(1)
    means = rng.uniform(0.1, 0.5, 6)
    x = _patches(rng, means, n=2048, constant=True)
    layers = []
    for seed in range(3):
        torch.manual_seed(seed)
        net = PaperCNN(6)
        _calibrate_batchnorm(net, x)
        layers.append(first_layer_of(net))
    cov = fit_input_covariance(layers)
    truth = np.cov(x[:, :, 0, 0].T.astype(np.float64), bias=True)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), np.sqrt(np.diag(truth)), rtol=0.05)
    with pytest.raises(ValueError, match="cannot determine"):
        fit_input_covariance([first_layer_of(PaperCNN(11))])  # 64 variances, 66 unknowns


def test_fingerprint_is_zero_on_the_training_data_and_grows_with_a_shift():
    rng = np.random.default_rng(2)
    means = rng.uniform(0.1, 0.8, schema.N_FEATURES)
    x = _patches(rng, means, n=384)
    torch.manual_seed(3)
    net = PaperCNN(schema.N_FEATURES)
    _calibrate_batchnorm(net, x)
    model = FaciesModel(net, features=schema.FEATURE_NAMES)  # identity normalisation
    lo, hi = np.zeros(schema.N_FEATURES), np.ones(schema.N_FEATURES)
    same = fingerprint(x, [("m", model)], feature_min=lo, feature_max=hi).models[0]
    assert max(s.mean_offset_sd for s in same.layers) < 0.02
    assert all(abs(s.std_ratio - 1) < 0.02 for s in same.layers)
    assert same.first_layer_mismatch < 0.01
    shifted_x = x.copy()
    shifted_x[:, 3] += 0.3  # NIR brighter by 0.3 normalised units
    shifted = fingerprint(shifted_x, [("m", model)], feature_min=lo, feature_max=hi)
    assert shifted.data_means["nir"] == pytest.approx(means[3] + 0.3, abs=0.01)
    assert shifted.models[0].layers[0].mean_offset_sd > 0.1
    assert shifted.models[0].first_layer_mismatch == pytest.approx(0.3 / schema.N_FEATURES, abs=0.01)


def test_shipped_estimate_is_what_the_published_weights_give(shared_models):
    from facies_bench.models.keras_import import convert_keras_weights, read_keras_weights
    from facies_bench.published import derive_norm_stats, files, published_norm_stats

    layers = {}
    for name in files.WEIGHTS:
        if not name.endswith("-before"):
            fs, fold = name.split("/")
            layers[name] = first_layer_of(convert_keras_weights(read_keras_weights(shared_models / fs / f"{fold}_after.h5")))
    derived = derive_norm_stats(layers)
    shipped = published_norm_stats()
    assert derived.features == shipped.features
    np.testing.assert_allclose(derived.min, shipped.min)
    np.testing.assert_allclose(derived.max, shipped.max, rtol=1e-9)
    # the 0/1 shadow mask checks the covariance fit: a mean p implies a spread sqrt(p (1 - p))
    p = np.mean(list(derived.normalised_means["shadow_mask"].values()))
    assert derived.normalised_sd["shadow_mask"] == pytest.approx(np.sqrt(p * (1 - p)), abs=0.03)
    for f in schema.OPTICAL_FEATURES:  # the two independent estimates of each band's maximum agree within 25 %
        low, high = shipped.max_range[schema.FEATURE_NAMES.index(f)]
        assert high / low < 1.6 and low <= shipped.max[schema.FEATURE_NAMES.index(f)] <= high


def test_shipped_estimate_is_packaged_data():
    data = json.loads(resources.files("facies_bench").joinpath("resources", "published_norm_stats.json").read_text())
    assert data["features"] == list(schema.FEATURE_NAMES) and len(data["min"]) == len(data["max"]) == schema.N_FEATURES
    assert data["derived_from"]["commit"].startswith("b81cdc85")
