"""Label shares per glacier and the six glacier-wise folds of the synthetic dataset.

Sources (see ``docs/simulator.md``):

* Skeidararjokull 29.58 % and Maladeta 0.057 % of all labels: paper, Section 2 (dataset_stats.csv).
* Region totals: raw (pre-cleaning) label counts restored from Table 5 of the paper, which counts
  the labels left after confident learning: each region's class counts divided by (1 - the
  class's pruning rate in Table 3, feature set 4; shadow, water and cloud were never pruned),
  with Iceland's snow cell 41,757 corrected to 11,757 (its ``n_overall`` 55,128 agrees).
  The restored region totals sum to 137,471 of the published 137,592 labels (rounding of the
  printed pruning rates).
* Within a region the remaining labels are shared in proportion to ``area_km2 ** 0.4`` (larger
  glaciers get more labels, sub-linearly, as in the release where big ice caps dominate).

Folds are whole glaciers (frozen in :data:`SYNTHETIC_FOLDS`), balanced by label count with a longest-processing-time greedy
assignment that breaks near-ties towards the fold with fewest glaciers of the same region
(so folds mix regions).  Skeidararjokull alone exceeds one sixth of the labels and gets a fold
to itself.  The assignment is a fixed constant, :data:`SYNTHETIC_FOLDS`, the same at every scale
and seed; :func:`balance_folds` recomputes it (a test checks they agree).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facies_bench import schema

#: Labelled points in the published dataset (paper, Section 2).
N_LABELS = 137_592
#: Share of labels pruned by confident learning per class, Table 3 feature set 4 (0 = never pruned).
PRUNED_TABLE3 = np.array([0.14, 0.17, 0.27, 0.18, 0.0, 0.24, 0.0, 0.0])
#: Labels per region and class after cleaning, Table 5 (Iceland snow corrected from 41,757).
REGION_CLASS_TABLE5 = {
    "Pyrenees": [53, 0, 0, 0, 0, 0, 0, 0],
    "Alps": [10448, 4081, 1634, 5516, 1414, 19, 4, 101],
    "Scandinavia": [3653, 2283, 49, 3738, 420, 203, 0, 18],
    "Iceland": [22177, 11757, 13734, 5655, 1046, 404, 252, 103],
    "Svalbard": [7883, 6325, 777, 2204, 7046, 1166, 391, 400],
}


def restore_raw_counts(cleaned: np.ndarray | Sequence[float]) -> np.ndarray:
    """Pre-cleaning label counts from counts left after confident learning (class order, last axis).

    Each class count is divided by ``1 - PRUNED_TABLE3[class]`` (Table 3, feature set 4).
    """
    return np.asarray(cleaned, float) / (1.0 - PRUNED_TABLE3)


#: Labels per region after cleaning, Table 5 ``n_overall``: the region totals the frozen
#: :data:`SYNTHETIC_FOLDS` were balanced on (generator versions 1-2).
REGION_LABELS_CLEANED = {"Pyrenees": 53, "Alps": 23_217, "Scandinavia": 10_364, "Iceland": 55_128, "Svalbard": 26_192}
#: Raw (pre-cleaning) labels per region, restored from Table 5 with Table 3's pruning rates.
REGION_LABELS_RAW = {region: float(restore_raw_counts(counts).sum()) for region, counts in REGION_CLASS_TABLE5.items()}
#: Published per-glacier extremes of the label share, % (paper, Section 2).
FIXED_GLACIER_SHARE_PCT = {"Skeidararjokull": 29.58, "Maladeta": 0.057}


def glacier_label_shares(region_totals: dict[str, float] | None = None) -> dict[str, float]:
    """Share (fraction, summing to 1) of all labels on each glacier, in ``schema.GLACIERS`` order.

    Args:
        region_totals: labels per region (default :data:`REGION_LABELS_RAW`).
    """
    region_totals = REGION_LABELS_RAW if region_totals is None else region_totals
    total = sum(region_totals.values())
    shares: dict[str, float] = {}
    for region, n in region_totals.items():
        members = [g for g in schema.GLACIERS if g.region == region]
        region_pct = 100.0 * n / total
        fixed = {g.name: FIXED_GLACIER_SHARE_PCT[g.name] for g in members if g.name in FIXED_GLACIER_SHARE_PCT}
        rest = [g for g in members if g.name not in fixed]
        remaining = max(region_pct - sum(fixed.values()), 0.0)
        weights = [g.area_km2 ** 0.4 for g in rest]
        for g, w in zip(rest, weights, strict=True):
            shares[g.name] = remaining * w / sum(weights)
        shares.update(fixed)
    norm = sum(shares.values())
    return {g.name: shares[g.name] / norm for g in schema.GLACIERS}


def balance_folds(shares: dict[str, float] | None = None, n_folds: int = schema.N_FOLDS) -> dict[str, int]:
    """Greedy glacier-to-fold assignment balancing label shares and mixing regions.

    Args:
        shares: label share per glacier (default :func:`glacier_label_shares`).
        n_folds: number of folds.

    Returns:
        glacier name -> fold (0 .. n_folds - 1), folds numbered by decreasing total.
    """
    shares = glacier_label_shares() if shares is None else shares
    totals = [0.0] * n_folds
    members: list[list[str]] = [[] for _ in range(n_folds)]
    order = sorted(shares, key=lambda name: (-shares[name], name))
    for name in order:
        region = schema.glacier_region(name)
        lowest = min(totals)
        # folds within 1.5 percentage points of the emptiest one compete on region diversity
        candidates = [k for k in range(n_folds) if totals[k] <= lowest + 0.015]
        k = min(candidates, key=lambda k: (sum(schema.glacier_region(m) == region for m in members[k]), totals[k], k))
        totals[k] += shares[name]
        members[k].append(name)
    rank = sorted(range(n_folds), key=lambda k: (-totals[k], k))
    renumber = {old: new for new, old in enumerate(rank)}
    return {name: renumber[k] for k in range(n_folds) for name in members[k]}


#: Fold (0-5) of every glacier in the synthetic dataset: the output of :func:`balance_folds` on
#: the cleaned region totals (``glacier_label_shares(REGION_LABELS_CLEANED)``), frozen so that
#: fold numbers keep meaning the same glaciers across generator versions.  On the raw totals
#: the folds 1-5 hold 13.2-15.5 % of the labels (fold 0, Skeidararjokull: 29.6 %).
SYNTHETIC_FOLDS: dict[str, int] = {
    "Skeidararjokull": 0,
    "Silvretta": 1, "Bruarjokull": 1, "Graasubreen": 1, "Argentiere": 1, "Waldemarbreen": 1,
    "Sex Rouge": 2, "Storbreen": 2, "Gietro": 2, "Jamtal F": 2, "Kronebreen": 2,
    "Gebroulaz": 3, "Corbassiere": 3, "Langjokull ice cap": 3, "Austre Okstindbreen": 3, "Adler": 3,
    "Goldberg K": 4, "Austre Lovenbreen": 4, "Fridtjovbreen": 4, "Kesselwand F": 4,
    "Marmaglacieraeren": 4, "Svelgjabreen": 4, "Grosser Aletsch": 4,
    "Midtre Lovenbreen": 5, "Engabreen": 5, "Maladeta": 5, "Luppo": 5, "Tsanfleuron": 5,
    "Schwarzberg": 5, "Kongsvegen": 5, "Pasterze": 5,
}


def fold_glaciers() -> dict[int, list[str]]:
    """Fold -> glacier names (in ``schema.GLACIERS`` order)."""
    out: dict[int, list[str]] = {k: [] for k in range(schema.N_FOLDS)}
    for g in schema.GLACIERS:
        out[SYNTHETIC_FOLDS[g.name]].append(g.name)
    return out
