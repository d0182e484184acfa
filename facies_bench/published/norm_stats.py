"""An estimate of the authors' global min-max normalisation, derived from their published weights.

The authors normalised every input channel with global per-channel minima and maxima
(``globalminmax.pickle``) that they never published, so their models cannot be applied to new
imagery without an estimate.  It is made from two kinds of evidence only — never from the
synthetic simulator, so it does not move when the simulator changes:

1. **The published weights.**  :mod:`facies_bench.published.moments` recovers, from the first
   layer of each of the nine published models, the mean of every *normalised* input channel
   (least squares on the 64 batch-norm running means, R^2 >= 0.998) and, jointly over the six
   fs4 "after" models, the channels' standard deviations.
2. **What is fixed by definition or physics.**  The shadow mask is 0/1 and the hillshade lies in
   [0, 1]; elevation and proximity are normalised per glacier to [0, 1]; slope is 0-90 degrees.
   These channels keep min 0 and max 1 (90 for slope).  The recovered moments agree: the shadow
   mask's mean 0.93 implies a spread of sqrt(0.93 x 0.07) = 0.26 for a 0/1 channel and the
   covariance fit finds 0.26; elevation's recovered mean 0.50 and spread 0.23 are those of values
   spread over [0, 1].  For the six reflectance bands the minimum is taken as 0 (top-of-atmosphere
   reflectance cannot be negative, and 10^8 pixels include deep shadow and water) and the maximum
   as ``E[x] / m``: the band's expected reflectance over the dataset, from the published class
   shares and per-class top-of-atmosphere reflectances of the glaciological literature
   (:data:`TOA_REFLECTANCE_PRIOR`), over the recovered normalised mean ``m``.  The standard
   deviations give a second, independent estimate ``sd[x] / s``; the two bracket the uncertainty.

The values shipped in ``resources/published_norm_stats.json`` are :func:`derive_norm_stats`'s
output for the nine published models; ``tests/published`` recomputes them from the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from facies_bench import paper, schema
from facies_bench.models.keras_import import read_published_norm_stats
from facies_bench.published.moments import FirstLayer, fit_input_covariance, fit_input_means

#: Typical top-of-atmosphere reflectance of each class in blue, green, red, NIR, SWIR1, SWIR2.
#: Snow, firn and ice follow the paper's NIR thresholds (snow >~ 0.55, firn ~0.40-0.55, ice
#: <~ 0.40) and the Landsat TM glacier-facies spectra of Hall et al. (1987, 1988); snow and ice
#: are dark at 1.6 and 2.2 um (Dozier 1989); debris is rock-like and brighter in the SWIR
#: (Paul et al. 2004); refrozen-like ice is bright and blue (Winther 1993); shadow keeps only
#: diffuse sky light; water is dark beyond the visible; cloud is bright in the SWIR.
TOA_REFLECTANCE_PRIOR: dict[str, tuple[float, ...]] = {
    "ice": (0.45, 0.42, 0.38, 0.30, 0.03, 0.03),
    "snow": (0.85, 0.83, 0.80, 0.68, 0.12, 0.08),
    "debris": (0.12, 0.13, 0.15, 0.20, 0.22, 0.18),
    "firn": (0.65, 0.62, 0.58, 0.47, 0.06, 0.05),
    "shadow": (0.10, 0.08, 0.06, 0.05, 0.02, 0.02),
    "refrozen-like": (0.60, 0.57, 0.52, 0.38, 0.03, 0.03),
    "water": (0.10, 0.08, 0.05, 0.02, 0.01, 0.01),
    "cloud": (0.70, 0.68, 0.66, 0.65, 0.45, 0.30),
}
#: Within-class standard deviation of reflectance (visible/NIR, SWIR): impurities, grain size, slope.
WITHIN_CLASS_SD = (0.06, 0.06, 0.06, 0.06, 0.03, 0.03)
#: Channels whose range is fixed by definition: name -> (min, max).
DEFINED_RANGES: dict[str, tuple[float, float]] = {
    "elevation": (0.0, 1.0), "slope": (0.0, 90.0), "shadow_mask": (0.0, 1.0), "hillshade": (0.0, 1.0),
    "proximity": (0.0, 1.0),
}


@dataclass
class NormStatsEstimate:
    """Estimated per-channel min and max of the authors' normalisation, with the evidence."""

    features: tuple[str, ...]
    min: list[float]
    max: list[float]
    #: per channel: (low, high) of the maximum over the estimates and the models' spread
    max_range: list[tuple[float, float]]
    #: per channel: the normalised mean each model implies (model name -> value)
    normalised_means: dict[str, dict[str, float]]
    #: per channel: the normalised standard deviation from the joint fs4 covariance fit
    normalised_sd: dict[str, float]
    method: dict[str, Any] = field(default_factory=dict)

    def for_features(self, features: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Minimum and maximum of ``features``, in that order, as float32 arrays."""
        idx = [self.features.index(f) for f in features]
        return np.asarray(self.min, np.float32)[idx], np.asarray(self.max, np.float32)[idx]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the estimate."""
        out = asdict(self)
        out["features"] = list(self.features)
        out["max_range"] = [list(r) for r in self.max_range]
        return out


def reflectance_prior_moments() -> tuple[np.ndarray, np.ndarray]:
    """(6,) expected reflectance and (6,) its standard deviation over the dataset's class mix."""
    shares = np.asarray(paper.CLASS_SHARE_PCT) / sum(paper.CLASS_SHARE_PCT)
    table = np.asarray([TOA_REFLECTANCE_PRIOR[name] for name in schema.CLASS_NAMES])  # (8, 6)
    mean = shares @ table
    between = shares @ (table - mean) ** 2
    return mean, np.sqrt(between + np.asarray(WITHIN_CLASS_SD) ** 2)


def derive_norm_stats(layers: Mapping[str, FirstLayer]) -> NormStatsEstimate:
    """The normalisation estimate from published models' first layers.

    Args:
        layers: model name (``fs4/fold0``...) -> its first layer; models with 6, 8, 10 or 11
            input channels (feature sets 1-4).  The covariance fit uses the 11-channel models.

    Raises:
        ValueError: no 11-channel model is given.
    """
    names = schema.FEATURE_NAMES
    per_channel: dict[str, dict[str, float]] = {f: {} for f in names}
    for model, layer in layers.items():
        fit = fit_input_means(layer)
        for f, value in zip(names[:layer.in_channels], fit.means, strict=False):
            per_channel[f][model] = float(value)
    full = [layer for layer in layers.values() if layer.in_channels == len(names)]
    if not full:
        raise ValueError("The covariance fit needs at least one 11-channel (feature set 4) model.")
    sd = np.sqrt(np.clip(np.diag(fit_input_covariance(full)), 0.0, None))
    raw_mean, raw_sd = reflectance_prior_moments()
    lo, hi, ranges = [], [], []
    for i, f in enumerate(names):
        means = np.asarray(list(per_channel[f].values()))
        if f in DEFINED_RANGES:
            a, b = DEFINED_RANGES[f]
            lo.append(a)
            hi.append(b)
            ranges.append((b, b))
            continue
        from_mean = raw_mean[i] / means  # one estimate per model
        from_sd = raw_sd[i] / sd[i] if sd[i] > 0 else np.nan
        lo.append(0.0)
        hi.append(float(np.round(np.median(from_mean), 3)))
        candidates = np.append(from_mean, from_sd)
        ranges.append((float(np.round(np.nanmin(candidates), 3)), float(np.round(np.nanmax(candidates), 3))))
    return NormStatsEstimate(
        features=names, min=lo, max=hi, max_range=ranges, normalised_means=per_channel,
        normalised_sd={f: float(np.round(s, 4)) for f, s in zip(names, sd, strict=True)},
        method={"optical": "min 0; max = E[reflectance] (literature class spectra x published class shares) / recovered normalised mean, median over models",
                "defined": DEFINED_RANGES, "class_share_pct": paper.CLASS_SHARE_PCT,
                "reflectance_prior_mean": np.round(raw_mean, 4).tolist(), "reflectance_prior_sd": np.round(raw_sd, 4).tolist(),
                "models": sorted(layers)})


def published_norm_stats() -> NormStatsEstimate:
    """The shipped estimate (``facies_bench/resources/published_norm_stats.json``)."""
    data = read_published_norm_stats()
    return NormStatsEstimate(features=tuple(data["features"]), min=data["min"], max=data["max"],
                             max_range=[tuple(r) for r in data["max_range"]], normalised_means=data["normalised_means"],
                             normalised_sd=data["normalised_sd"], method=data["method"])
