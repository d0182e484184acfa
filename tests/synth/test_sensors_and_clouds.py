"""Cross-calibrated sensors and SWIR-bright thick cloud (simulator v12); the L1 products' resampling (v13)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from facies_bench import schema
from facies_bench.synth.render import _l1_weights, _sensor_image

SENSORS = ("Landsat 5", "Landsat 7", "Landsat 8", "Landsat 9", "Sentinel-2")
SWIR1, RED = schema.feature_index("swir1"), schema.feature_index("red")


@pytest.mark.parametrize("reflectance", [0.05, 0.3])
def test_every_sensor_reads_a_uniform_surface_alike(reflectance):
    # TM, ETM+, OLI and MSI top-of-atmosphere reflectances agree within 2-3 % per band after
    # cross-calibration (Teillet et al. 2001; Markham & Helder 2012; Mishra et al. 2014).  Up to v11 TM and
    # ETM+ carried blue / green gains of 1.04 / 1.02 and additive offsets up to 0.015, without a source:
    # 11 % above OLI in the blue over a 0.3 surface, 37 % over a dark 0.05 one
    surface = np.full((6, 90, 90), reflectance, np.float32)
    means = np.stack([
        _sensor_image(surface.copy(), SimpleNamespace(sensor=s), np.random.default_rng(0), sin_el=np.float64(0.9))
        .mean(axis=(1, 2)) for s in SENSORS])
    np.testing.assert_allclose(means / reflectance, 1.0, atol=0.035)
    assert np.ptp(means, axis=0).max() < 0.03 * reflectance + 0.001


def test_thick_cloud_in_the_store_is_bright_in_the_swir(true_class_spectra):
    # A cloud thick enough to hide the surface is mostly liquid water, whose 1.6 um reflectance stays at
    # ~0.55-0.8 of its visible one (Nakajima & King 1990); the experts labelled cloud by its "enhanced
    # SWIR brightness" (paper).  This store's 20 cloudy scenes: SWIR1 / red of the true cloud pixels
    # 0.47-0.65 (median per scene); v11's ice-phase factor down to 0.4 gave 0.28-0.63, as dark as snow
    spectra = true_class_spectra("cloud", 20)
    ratios = spectra[:, SWIR1] / spectra[:, RED]
    assert len(ratios) >= 5
    assert min(ratios) > 0.42, np.round(ratios, 2)


def _line_peak_share(sensor: str, seed: int) -> float:
    """Share of a one-pixel bright line's signal that stays in its own column of the 10 m image."""
    surface = np.full((6, 90, 90), 0.2, np.float32)
    surface[:, :, 45] = 0.6
    image = _sensor_image(surface, SimpleNamespace(sensor=sensor), np.random.default_rng(seed), sin_el=np.float64(0.9))
    profile = image[RED, 10:-10].mean(axis=0) - 0.2
    return float(profile.max() / profile[40:51].sum())


def test_sentinel2_l1c_resampling_smooths_the_10m_bands():
    # L1C products are resampled from the detector geometry onto the UTM tile grid with cubic
    # B-splines, a 4 x 4 kernel that smooths the image (ESA S2 MSI L1C processing; Gorroño et al. 2016).
    # With the optics' point spread alone (up to v12) a one-pixel line kept 0.74 of its signal in its
    # own column; after the B-spline it keeps 0.47-0.52, depending on where the grids meet
    shares = [_line_peak_share("Sentinel-2", seed) for seed in range(6)]
    assert max(shares) < 0.6, np.round(shares, 3)
    assert min(shares) > 0.4, np.round(shares, 3)


@pytest.mark.parametrize("kernel", ["bspline", "cubic_convolution"])
def test_l1_resampling_weights(kernel):
    # Both kernels keep a uniform surface; cubic convolution (Landsat L1) interpolates, so a grid that
    # meets the samples exactly returns them, while the B-spline (Sentinel-2 L1C) averages neighbours
    for t in np.linspace(0, 0.99, 12):
        assert _l1_weights(t, kernel).sum() == pytest.approx(1.0)
    expected = [0, 1, 0, 0] if kernel == "cubic_convolution" else [1 / 6, 2 / 3, 1 / 6, 0]
    np.testing.assert_allclose(_l1_weights(0.0, kernel), expected, atol=1e-12)
