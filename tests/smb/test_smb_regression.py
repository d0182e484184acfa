"""Eq. 2 glacier-fold cross-validation and Eq. 3 leave-one-year-out, with spies on every fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from facies_bench.smb.regression import (
    coefficients_in_units,
    cross_validate_glacier_specific,
    cross_validate_global,
    make_ridge,
    regression_scores,
)


class SpyRidge(Ridge):
    """Ridge that records every training set it is fitted on."""

    fits: list = []

    def fit(self, X, y, sample_weight=None):
        SpyRidge.fits.append((np.array(X, copy=True), np.array(y, copy=True)))
        return super().fit(X, y, sample_weight)


@pytest.fixture()
def spy():
    SpyRidge.fits = []
    yield lambda: SpyRidge(alpha=1e-6)
    SpyRidge.fits = []


def _table(n_glaciers=8, n_years=6, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_glaciers):
        for y in range(n_years):
            snow = rng.uniform(0.1, 0.8)
            line = rng.uniform(-0.4, 0.4)
            alb = rng.uniform(0.3, 0.7)
            rows.append({"glacier": f"G{g}", "year": 2000 + y, "snow_ratio": snow, "snowline_norm": line, "albedo": alb,
                         "smb": -1.5 + 2.5 * snow - 0.8 * line + 0.5 * alb + noise * rng.standard_normal()})
    return pd.DataFrame(rows)


def test_global_cv_never_trains_on_the_test_fold(spy):
    table = _table()
    folds = {f"G{g}": g % 3 for g in range(8)}
    result = cross_validate_global(table, folds=folds, make_estimator=spy)
    cv_fits = SpyRidge.fits[:3]  # one fit per fold, then the final fit on everything
    assert len(SpyRidge.fits) == 4
    keyed = {tuple(np.round(r, 12)): g for r, g in zip(table[["snow_ratio", "snowline_norm", "albedo"]].to_numpy(), table["glacier"], strict=True)}
    for k, (X, _) in enumerate(cv_fits):
        trained_on = {keyed[tuple(np.round(x, 12))] for x in X}
        assert trained_on == {g for g, f in folds.items() if f != k}
        tested = set(result.predictions.loc[result.predictions["group"] == k, "glacier"])
        assert tested == {g for g, f in folds.items() if f == k}
        assert not trained_on & tested
    assert len(result.predictions) == len(table)
    # noise-free linear data: near-perfect out-of-sample predictions and recovered coefficients
    assert result.scores["r"] > 0.999 and result.scores["rmse"] < 1e-3
    assert result.coefficients["snow_ratio"] == pytest.approx(2.5, abs=1e-3)
    assert result.coefficients["snowline_norm"] == pytest.approx(-0.8, abs=1e-3)
    assert result.coefficients["intercept"] == pytest.approx(-1.5, abs=1e-3)


def test_global_cv_reports_rows_it_cannot_use():
    table = _table(n_glaciers=4, n_years=3)
    table.loc[0, "albedo"] = np.nan
    folds = {"G0": 0, "G1": 1, "G2": 2}  # G3 has no fold
    result = cross_validate_global(table, folds=folds)
    reasons = {(d["glacier"], d["year"]): d["reason"] for d in result.left_out}
    assert "albedo" in reasons[("G0", 2000)]
    assert all("no fold" in reasons[("G3", y)] for y in (2000, 2001, 2002))
    assert len(result.predictions) == 3 * 3 - 1
    assert set(result.per_glacier["glacier"]) == {"G0", "G1", "G2"}


def test_leave_one_year_out(spy):
    table = _table(n_glaciers=3, n_years=5, noise=0.1)
    table = table[~((table["glacier"] == "G2") & (table["year"] > 2002))]  # G2 keeps 3 records
    result = cross_validate_glacier_specific(table, make_estimator=spy)
    n_eligible = 10
    assert len(result.predictions) == n_eligible
    # each glacier: 5 leave-one-out fits of 4 records, then a final fit of 5
    loo_fits = [f for f in SpyRidge.fits if len(f[0]) == 4]
    assert len(loo_fits) == n_eligible
    for row in result.predictions.itertuples():
        x = table.loc[(table["glacier"] == row.glacier) & (table["year"] == row.year), "snow_ratio"].iloc[0]
        same_glacier = set(table.loc[table["glacier"] == row.glacier, "snow_ratio"])
        # exactly one leave-one-out fit lacks this record, and it holds the glacier's other records only
        without = [X for X, _ in loo_fits if x not in X[:, 0] and set(X[:, 0]) <= same_glacier]
        assert len(without) == 1
        assert set(without[0][:, 0]) == same_glacier - {x}
    assert {d["glacier"] for d in result.left_out} == {"G2"}
    assert "fewer than the 4" in result.left_out[0]["reason"]
    assert set(result.coefficients) == {"G0", "G1"}


def test_leave_one_year_out_prediction_is_the_fit_without_that_year():
    table = pd.DataFrame({"glacier": "G", "year": [1, 2, 3, 4], "snow_ratio": [0.1, 0.3, 0.5, 0.9],
                          "smb": [-1.0, -0.2, 0.1, 0.9]})
    result = cross_validate_glacier_specific(table, alpha=1.0)
    for i, row in enumerate(result.predictions.itertuples()):
        rest = table.drop(index=i)
        expected = make_ridge(1.0).fit(rest[["snow_ratio"]].to_numpy(), rest["smb"].to_numpy()).predict([[table.snow_ratio[i]]])[0]
        assert row.predicted == pytest.approx(expected)


def test_scores_and_coefficients():
    s = regression_scores([0.0, 1.0, 2.0], [0.5, 1.0, 2.5])
    assert s["n"] == 3 and s["rmse"] == pytest.approx(np.sqrt(0.5 / 3)) and s["bias"] == pytest.approx(1 / 3)
    assert s["r"] == pytest.approx(np.corrcoef([0, 1, 2], [0.5, 1, 2.5])[0, 1])
    assert regression_scores([1.0, 2.0], [1.0, 2.0])["r"] is None  # too few for a correlation
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = make_ridge(1e-9).fit(X, 2 * X[:, 0] - 1)
    c = coefficients_in_units(model, ("snow_ratio",))
    assert c == pytest.approx({"intercept": -1.0, "snow_ratio": 2.0})
