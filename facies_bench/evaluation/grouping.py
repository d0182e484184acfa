"""Grouping of scored samples by region, sensor, glacier and fold, and per-group scores.

Groups are integer codes in a fixed display order (the schema's order of regions, sensors and
glaciers; folds 0-5), restricted to the groups that have scored samples.  One ``bincount`` gives
every group's confusion matrix, from which :mod:`facies_bench.evaluation.metrics` derives all
scores at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from facies_bench import schema
from facies_bench.evaluation.metrics import ConfusionScores, confusion_counts, scores_from_confusion

#: Display order of each grouping column.
GROUP_ORDERS: dict[str, tuple[str, ...]] = {
    "region": schema.REGIONS,
    "sensor": schema.SENSOR_NAMES + (schema.UNKNOWN_SENSOR,),
    "glacier": schema.GLACIER_NAMES,
    "fold": tuple(str(k) for k in range(schema.N_FOLDS)),
}


@dataclass(frozen=True)
class Grouping:
    """Samples assigned to named groups."""

    column: str
    names: tuple[str, ...]  #: group names, in display order
    codes: np.ndarray  #: (n,) group code of each sample, index into ``names``

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.names)


def make_grouping(column: str, values: np.ndarray | pd.Series) -> Grouping:
    """Group samples by the values of a metadata column.

    Args:
        column: ``region``, ``sensor``, ``glacier``, ``fold`` or any other column name.
        values: (n,) the column's value for each scored sample.

    Returns:
        Groups present in ``values``, ordered as in :data:`GROUP_ORDERS` (unknown values after
        the known ones, sorted).
    """
    codes, uniques = pd.factorize(pd.Series(values).astype(str), sort=False)
    uniques = [str(u) for u in uniques]
    reference = GROUP_ORDERS.get(column, ())
    rank = {name: i for i, name in enumerate(reference)}
    ordered = sorted(uniques, key=lambda u: (rank.get(u, len(rank)), u))
    remap = np.array([ordered.index(u) for u in uniques], dtype=np.int64)
    return Grouping(column=column, names=tuple(ordered), codes=remap[codes])


def grouped_scores(y_true: np.ndarray, y_pred: np.ndarray, grouping: Grouping) -> tuple[np.ndarray, ConfusionScores]:
    """Confusion matrices (G, K, K) and scores of every group."""
    cm = confusion_counts(y_true, y_pred, groups=grouping.codes, n_groups=grouping.n_groups)
    return cm, scores_from_confusion(cm)


def size_f1_correlation(support: np.ndarray, f1: np.ndarray) -> dict[str, float | int | None]:
    """Spearman rank correlation between class sample size and class F1 over group x class cells.

    As in the paper, every cell with a defined F1 (the class present in the group, n > 0) counts.

    Args:
        support: (G, K) true samples per group and class.
        f1: (G, K) F1 per group and class (NaN where absent).

    Returns:
        ``{"rho", "p_value", "n_cells"}``; rho and p are None with fewer than 3 cells or constant data.
    """
    from scipy.stats import spearmanr

    n = np.asarray(support, dtype=np.float64).reshape(-1)
    f1 = np.asarray(f1, dtype=np.float64).reshape(-1)
    keep = (n > 0) & np.isfinite(f1)
    n, f1 = n[keep], f1[keep]
    result: dict[str, float | int | None] = {"rho": None, "p_value": None, "n_cells": int(keep.sum())}
    if n.size >= 3 and np.ptp(n) > 0 and np.ptp(f1) > 0:
        res = spearmanr(n, f1)
        result["rho"] = float(res.statistic)
        result["p_value"] = float(res.pvalue)
    return result
