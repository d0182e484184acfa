"""Lake optics (Beer-Lambert over an ice bed) and the adjacency effect, both since simulator v10."""

from __future__ import annotations

import numpy as np

from facies_bench import schema
from facies_bench.synth.render import lake_reflectance, with_adjacency

BLUE, RED, NIR, SWIR1 = (schema.feature_index(b) for b in ("blue", "red", "nir", "swir1"))
ICE_BED = np.array([0.55, 0.50, 0.42, 0.28, 0.04, 0.03], np.float32)[:, None, None]


def test_a_lake_fades_from_its_bed_to_deep_water_fastest_in_the_nir():
    depths = np.array([[0.0, 0.1, 1.0, 4.0, 50.0]], np.float32)
    refl = lake_reflectance(np.broadcast_to(ICE_BED, (6, *depths.shape)), depths)[:, 0]
    np.testing.assert_allclose(refl[:, 0], ICE_BED[:, 0, 0], rtol=1e-6)  # no water: the bed
    assert np.all(np.diff(refl, axis=1) <= 0)  # deeper is darker in every band
    assert refl[NIR, 2] < 0.01 and refl[SWIR1, 1] < 0.01  # NIR black at 1 m, SWIR at 10 cm
    assert refl[BLUE, 3] > 0.3 and refl[RED, 3] < 0.1  # 4 m: blue-turquoise
    assert refl[BLUE, 4] < 0.06  # optically deep water


def test_adjacency_brightens_a_dark_pixel_amid_bright_snow_most_in_the_blue():
    snow = np.full((6, 81, 81), 0.8, np.float32)
    rock = np.full((6, 81, 81), 0.15, np.float32)
    snow[:, 40, 40] = rock[:, 40, 40] = 0.1
    on_snow, on_rock = with_adjacency(snow)[:, 40, 40], with_adjacency(rock)[:, 40, 40]
    gain = on_snow - on_rock
    assert np.all(gain > 0) and gain[BLUE] > 3 * gain[NIR] and gain[BLUE] > 0.05
    # a uniform surface is unchanged
    np.testing.assert_allclose(with_adjacency(np.full((6, 40, 40), 0.5, np.float32)), 0.5, rtol=1e-5)


def test_lakes_in_the_store_are_blue_and_black_in_the_nir(true_class_spectra):
    spectra = true_class_spectra("water", 10)
    assert len(spectra) >= 3
    median = np.nanmedian(spectra, axis=0)  # a scene's lake may lie wholly in Landsat 7 gaps
    # lake pixels, shallow rims included, through the sensors' 30 m resampling and blur (quick store:
    # blue 0.38, NIR 0.07; this test's store on v11 and v12, whose high ice, the bed of shallow rims, is whiter:
    # 0.36 and 0.082; v13, whose Sentinel-2 L1C B-splines mix the small lakes' edges more: 0.35 and 0.087;
    # simulator v9's dark spectrum mixed with slush gave 0.41 and 0.14, blue / NIR 2.9)
    assert median[NIR] < 0.10 and median[BLUE] > 3.5 * median[NIR] and median[BLUE] > 0.25, median
