"""The paper's two SMB regressions and their out-of-sample evaluation.

* Global model (Eq. 2): ``SMB = b0 + b1 snow_ratio + b2 snowline_norm + b3 albedo``, one set of
  coefficients for all glaciers, evaluated with the six glacier folds: every fold's glacier-years
  are predicted by a model fitted on the other folds' glaciers only.
* Glacier-specific model (Eq. 3): ``SMB = b0_i + b1_i snow_ratio`` for every glacier with at
  least ``min_records`` records, evaluated leave-one-year-out.

Both are ridge regressions (scikit-learn ``Ridge``) on standardised predictors; ``alpha`` is the
ridge penalty on the standardised scale (the paper does not state its value; 1.0 is
scikit-learn's default).  Coefficients are reported back in the predictors' own units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from facies_bench.errors import MassBalanceError

GLOBAL_PREDICTORS: tuple[str, ...] = ("snow_ratio", "snowline_norm", "albedo")
SPECIFIC_PREDICTORS: tuple[str, ...] = ("snow_ratio",)
DEFAULT_ALPHA = 1.0
#: Eq. 3 is fitted only for glaciers with at least this many records (paper: four).
MIN_RECORDS = 4

EstimatorFactory = Callable[[], RegressorMixin]


def make_ridge(alpha: float = DEFAULT_ALPHA) -> RegressorMixin:
    """Standardise the predictors, then ridge regression."""
    return make_pipeline(StandardScaler(), Ridge(alpha=float(alpha)))


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | int | None]:
    """Pearson r (with two-sided p-value), RMSE, mean bias (pred - obs) and n."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    n = int(len(y_true))
    out: dict[str, float | int | None] = {"n": n, "r": None, "p_value": None, "rmse": None, "bias": None}
    if n == 0:
        return out
    err = y_pred - y_true
    out["rmse"] = float(np.sqrt(np.mean(err ** 2)))
    out["bias"] = float(err.mean())
    if n >= 3 and np.ptp(y_true) > 0 and np.ptp(y_pred) > 0:
        res = stats.pearsonr(y_true, y_pred)
        out["r"] = float(res.statistic)
        out["p_value"] = float(res.pvalue)
    return out


def coefficients_in_units(model: RegressorMixin, predictors: tuple[str, ...]) -> dict[str, float]:
    """Intercept and slopes of a fitted standardise+ridge pipeline, in the predictors' units."""
    try:
        scaler, ridge = model[0], model[-1]
        scale = np.asarray(scaler.scale_, dtype=np.float64)
        mean = np.asarray(scaler.mean_, dtype=np.float64)
        coef = np.asarray(ridge.coef_, dtype=np.float64) / scale
        intercept = float(ridge.intercept_ - np.sum(coef * mean))
    except (TypeError, AttributeError, IndexError):  # a plain linear estimator
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = float(model.intercept_)
    return {"intercept": intercept, **{p: float(c) for p, c in zip(predictors, coef, strict=True)}}


@dataclass
class ModelResult:
    """Out-of-sample predictions of one of the two models."""

    name: str  #: "global" or "glacier_specific"
    predictions: pd.DataFrame  #: [glacier, year, smb, predicted, group] (group = fold, or glacier for Eq. 3)
    scores: dict  #: pooled regression_scores
    per_glacier: pd.DataFrame  #: [glacier, n, r, rmse, bias]
    coefficients: dict  #: global: {intercept, snow_ratio, ...}; specific: {glacier: {...}}
    left_out: list[dict] = field(default_factory=list)  #: {glacier, year, reason}


def _per_glacier(predictions: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for glacier, part in predictions.groupby("glacier", sort=True):
        s = regression_scores(part["smb"].to_numpy(), part["predicted"].to_numpy())
        rows.append({"glacier": glacier, "n": s["n"], "r": s["r"], "rmse": s["rmse"], "bias": s["bias"]})
    return pd.DataFrame(rows, columns=["glacier", "n", "r", "rmse", "bias"])


def _check_columns(table: pd.DataFrame, predictors: tuple[str, ...]) -> None:
    missing = [c for c in ("glacier", "year", "smb", *predictors) if c not in table.columns]
    if missing:
        raise MassBalanceError(f"The SMB table lacks column(s) {', '.join(missing)}.")


def cross_validate_global(table: pd.DataFrame, *, folds: Mapping[str, int] | None = None, alpha: float = DEFAULT_ALPHA,
                          make_estimator: EstimatorFactory | None = None,
                          predictors: tuple[str, ...] = GLOBAL_PREDICTORS) -> ModelResult:
    """Eq. 2 evaluated with glacier folds.

    Args:
        table: one row per glacier-year with ``glacier``, ``year``, ``smb`` (m w.e.) and the predictors.
            Rows with a missing predictor are left out (reported).
        folds: glacier -> fold.  ``None`` means leave-one-glacier-out.  Glaciers absent from it are
            left out (reported).
        alpha: ridge penalty.
        make_estimator: factory of a fresh scikit-learn regressor (default: :func:`make_ridge`).
        predictors: the predictor columns of Eq. 2.

    Returns:
        A :class:`ModelResult`; ``predictions.group`` is the test fold of each prediction.
    """
    _check_columns(table, predictors)
    factory = make_estimator or (lambda: make_ridge(alpha))
    left_out: list[dict] = []
    complete = table[list(predictors)].notna().all(axis=1) & table["smb"].notna()
    for row in table.loc[~complete].itertuples():
        missing = [p for p in predictors if pd.isna(getattr(row, p))]
        left_out.append({"glacier": row.glacier, "year": int(row.year),
                         "reason": f"predictor(s) undefined: {', '.join(missing) or 'smb'}"})
    data = table.loc[complete].copy()
    if folds is None:
        fold_of = {g: i for i, g in enumerate(sorted(data["glacier"].unique()))}
    else:
        fold_of = dict(folds)
    known = data["glacier"].isin(list(fold_of))
    for row in data.loc[~known].itertuples():
        left_out.append({"glacier": row.glacier, "year": int(row.year),
                         "reason": "glacier has no fold assignment (no labelled samples in the store)"})
    data = data.loc[known].copy()
    data["group"] = data["glacier"].map(fold_of).astype(int)
    preds = []
    min_train = len(predictors) + 1
    for k in sorted(data["group"].unique()):
        test = data.loc[data["group"] == k]
        train = data.loc[data["group"] != k]
        if len(train) < min_train:
            for row in test.itertuples():
                left_out.append({"glacier": row.glacier, "year": int(row.year),
                                 "reason": f"fold {k}: only {len(train)} training records outside the fold (< {min_train})"})
            continue
        model = factory()
        model.fit(train[list(predictors)].to_numpy(np.float64), train["smb"].to_numpy(np.float64))
        out = test[["glacier", "year", "smb", "group"]].copy()
        out["predicted"] = model.predict(test[list(predictors)].to_numpy(np.float64))
        preds.append(out)
    columns = ["glacier", "year", "smb", "predicted", "group"]
    predictions = (pd.concat(preds, ignore_index=True)[columns] if preds else pd.DataFrame(columns=columns))
    predictions = predictions.sort_values(["glacier", "year"]).reset_index(drop=True)
    coefficients: dict = {}
    if len(data) >= min_train:
        final = factory().fit(data[list(predictors)].to_numpy(np.float64), data["smb"].to_numpy(np.float64))
        coefficients = coefficients_in_units(final, predictors)
    return ModelResult("global", predictions, regression_scores(predictions["smb"], predictions["predicted"]),
                       _per_glacier(predictions), coefficients, left_out)


def cross_validate_glacier_specific(table: pd.DataFrame, *, min_records: int = MIN_RECORDS, alpha: float = DEFAULT_ALPHA,
                                    make_estimator: EstimatorFactory | None = None,
                                    predictors: tuple[str, ...] = SPECIFIC_PREDICTORS) -> ModelResult:
    """Eq. 3 per glacier, leave-one-year-out.

    Every glacier with at least ``min_records`` complete records gets one prediction per record,
    each from a model fitted on that glacier's other years.  Other glaciers are left out (reported).
    ``predictions.group`` is the glacier.
    """
    _check_columns(table, predictors)
    if int(min_records) < 3:
        raise MassBalanceError(f"min_records is {min_records}; leave-one-year-out needs at least 3 records per glacier.")
    factory = make_estimator or (lambda: make_ridge(alpha))
    left_out: list[dict] = []
    complete = table[list(predictors)].notna().all(axis=1) & table["smb"].notna()
    for row in table.loc[~complete].itertuples():
        left_out.append({"glacier": row.glacier, "year": int(row.year), "reason": "snow ratio undefined"})
    data = table.loc[complete]
    preds, coefficients = [], {}
    for glacier, part in data.groupby("glacier", sort=True):
        part = part.sort_values("year")
        if len(part) < int(min_records):
            for row in part.itertuples():
                left_out.append({"glacier": glacier, "year": int(row.year),
                                 "reason": f"glacier has {len(part)} record(s) with features, fewer than the {min_records} Eq. 3 needs"})
            continue
        X = part[list(predictors)].to_numpy(np.float64)
        y = part["smb"].to_numpy(np.float64)
        predicted = np.empty(len(part))
        for i in range(len(part)):
            keep = np.arange(len(part)) != i
            predicted[i] = factory().fit(X[keep], y[keep]).predict(X[i:i + 1])[0]
        out = part[["glacier", "year", "smb"]].copy()
        out["predicted"] = predicted
        out["group"] = glacier
        preds.append(out)
        coefficients[glacier] = coefficients_in_units(factory().fit(X, y), predictors)
    columns = ["glacier", "year", "smb", "predicted", "group"]
    predictions = (pd.concat(preds, ignore_index=True)[columns] if preds else pd.DataFrame(columns=columns))
    return ModelResult("glacier_specific", predictions.reset_index(drop=True),
                       regression_scores(predictions["smb"], predictions["predicted"]),
                       _per_glacier(predictions), coefficients, left_out)
