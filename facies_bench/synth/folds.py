"""Label shares per glacier and the six glacier-wise folds of the synthetic dataset.

Sources (see ``docs/simulator.md``):

* Skeidararjokull 29.58 % and Maladeta 0.057 % of all labels: paper, Section 2 (dataset_stats.csv).
* Region totals: Table 5 of the paper (labels after cleaning; ``n_overall`` per region, Iceland
  as printed, 55,128, whose snow cell 41,757 is a typo for 11,757).  The cleaned totals are used
  as region proportions of the raw labels.
* Within a region the remaining labels are shared in proportion to ``area_km2 ** 0.4`` (larger
  glaciers get more labels, sub-linearly, as in the release where big ice caps dominate).

Folds are whole glaciers, balanced by label count with a longest-processing-time greedy
assignment that breaks near-ties towards the fold with fewest glaciers of the same region
(so folds mix regions).  Skeidararjokull alone exceeds one sixth of the labels and gets a fold
to itself.  The assignment is a fixed constant, :data:`SYNTHETIC_FOLDS`, the same at every scale
and seed; :func:`balance_folds` recomputes it (a test checks they agree).
"""

from __future__ import annotations

from facies_bench import schema

#: Labelled points in the published dataset (paper, Section 2).
N_LABELS = 137_592
#: Published per-glacier extremes of the label share, % (paper, Section 2).
FIXED_GLACIER_SHARE_PCT = {"Skeidararjokull": 29.58, "Maladeta": 0.057}
#: Labels per region after cleaning, Table 5 ``n_overall`` (proportions of the raw labels here).
REGION_LABELS_TABLE5 = {"Pyrenees": 53, "Alps": 23_217, "Scandinavia": 10_364, "Iceland": 55_128, "Svalbard": 26_192}


def glacier_label_shares() -> dict[str, float]:
    """Share (fraction, summing to 1) of all labels on each glacier, in ``schema.GLACIERS`` order."""
    total = sum(REGION_LABELS_TABLE5.values())
    shares: dict[str, float] = {}
    for region, n in REGION_LABELS_TABLE5.items():
        members = [g for g in schema.GLACIERS if g.region == region]
        region_pct = 100.0 * n / total
        fixed = {g.name: FIXED_GLACIER_SHARE_PCT[g.name] for g in members if g.name in FIXED_GLACIER_SHARE_PCT}
        rest = [g for g in members if g.name not in fixed]
        remaining = max(region_pct - sum(fixed.values()), 0.0)
        weights = [g.area_km2 ** 0.4 for g in rest]
        for g, w in zip(rest, weights):
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


#: Fold (0-5) of every glacier in the synthetic dataset (output of :func:`balance_folds`).
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
