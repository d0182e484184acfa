"""End to end: store / GeoTIFF maps -> features -> Eq. 2 and Eq. 3 -> report, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from facies_bench import schema
from facies_bench.smb import run_smb
from facies_bench.smb.synthetic import SYNTHETIC_ID_BASE

N_YEARS = 6  # len(YEARS) of the multi-year store in conftest.py


def _wgms_from(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A WGMS-layout table (mm w.e.) and a mapping for rows of glacier, year, smb (m w.e.)."""
    ids = {g: SYNTHETIC_ID_BASE + schema.glacier_index(g) for g in records["glacier"].unique()}
    table = pd.DataFrame({"NAME": records["glacier"].str.upper(), "WGMS_ID": records["glacier"].map(ids),
                          "YEAR": records["year"], "LOWER_BOUND": 9999, "UPPER_BOUND": 9999,
                          "ANNUAL_BALANCE": (records["smb"] * 1000).round()})
    return table, pd.DataFrame({"glacier": list(ids), "wgms_id": list(ids.values())})


def _reasons(report, glacier, year=None, stage=None):
    return [i["reason"] for i in report.left_out if i["glacier"] == glacier and (year is None or i["year"] == year)
            and (stage is None or i["stage"] == stage)]


def test_true_facies_run_on_a_multiyear_store(true_facies_report, snow_free, tmp_path):
    report = true_facies_report
    feats = report.features
    # one row per glacier-year in the window; Kongsvegen 2015 only has a July scene
    assert len(feats) == 6 * N_YEARS - 1
    assert ("Kongsvegen", 2015) not in set(zip(feats["glacier"], feats["year"], strict=True))
    assert any("no scene within +-20 days of 08-20" in r and "-41 days" in r for r in _reasons(report, "Kongsvegen", 2015))
    # the closer of two Silvretta 2014 scenes was used, the other is reported
    assert feats.set_index(["glacier", "year"]).loc[("Silvretta", 2014), "scene_id"] == "silvretta_20140821"
    assert any("closer to 08-20" in r for r in _reasons(report, "Silvretta", 2014, "window"))
    # a snow-free year: no snowline -> out of Eq. 2 but kept in Eq. 3 (snow ratio 0 is defined)
    bare = feats.set_index(["glacier", "year"]).loc[snow_free]
    assert bare["snow_ratio"] == 0 and np.isnan(bare["snowline_norm"])
    assert any("no snow pixels" in r for r in _reasons(report, *snow_free, "features"))
    assert any("snowline_norm" in r for r in _reasons(report, *snow_free, "global"))
    assert snow_free in set(zip(report.specific_model.predictions["glacier"], report.specific_model.predictions["year"], strict=True))
    assert report.global_model.scores["n"] == len(feats) - 1
    assert report.specific_model.scores["n"] == len(feats)
    # features are in their physical ranges
    assert feats["snow_ratio"].between(0, 1).all()
    assert feats["snowline_norm"].dropna().between(-1, 1).all()
    assert feats["albedo"].between(0.1, 0.95).all()
    # the synthetic SMB follows the true AAR, so even the global model finds the signal
    assert report.global_model.scores["r"] > 0.5
    assert report.specific_model.scores["r"] > 0.5
    # folds come from the store: every glacier predicted in its own fold
    folds = dict(zip(feats["glacier"], feats["fold"], strict=True))
    assert (report.global_model.predictions["group"] == report.global_model.predictions["glacier"].map(folds)).all()

    paths = report.write(tmp_path / "out")
    data = json.loads(paths["json"].read_text())
    assert data["global"]["scores"]["n"] == report.global_model.scores["n"]
    assert data["paper"]["global"] == {"r": 0.65, "rmse": 0.6}
    assert len(data["left_out"]) == len(report.left_out)
    assert "Kongsvegen" in paths["markdown"].read_text()
    for key in ("global_png", "specific_png"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "out").glob(".*"))


def test_noise_free_smb_is_recovered(multiyear_store):
    # SMB exactly linear in the true snow ratio (via the synthetic predictors of every glacier-year)
    from facies_bench.smb import true_smb_predictors

    truth = true_smb_predictors(multiyear_store)
    truth["smb"] = 3.0 * truth["aar"] - 1.2
    report = run_smb(multiyear_store, *_wgms_from(truth[["glacier", "year", "smb"]]), use_true_facies=True, alpha=1e-6)
    assert report.specific_model.scores["r"] > 0.999
    assert report.specific_model.scores["rmse"] < 0.01
    for coeffs in report.specific_model.coefficients.values():
        assert coeffs["snow_ratio"] == pytest.approx(3.0, rel=1e-3)


def test_bad_inputs_are_reported_and_the_rest_runs(multiyear_store):
    records = pd.DataFrame({"glacier": ["Silvretta"] * 3 + ["Gietro", "Pasterze"],
                            "year": [2013, 2014, 2015, 2015, 1999], "smb": [-0.5, -1.0, 0.2, -0.3, 0.4]})
    table, mapping = _wgms_from(records)
    mapping = pd.concat([mapping, pd.DataFrame({"glacier": ["Adler"], "wgms_id": [123456]})], ignore_index=True)
    report = run_smb(multiyear_store, table, mapping, use_true_facies=True)
    assert _reasons(report, "Gietro", 2015) == ["glacier has no scenes in the source"]
    assert _reasons(report, "Pasterze", 1999) == ["no scene of 1999 for this glacier"]
    assert any("no glacier-wide annual balance" in r for r in _reasons(report, "Adler"))
    assert all("fewer than the 4" in r for r in _reasons(report, "Silvretta", stage="glacier_specific"))
    assert report.specific_model.scores["n"] == 0
    # Silvretta is the only glacier with records: its fold model would have nothing to train on
    assert report.global_model.scores["n"] == 0
    assert all("only 0 training records outside the fold" in r for r in _reasons(report, "Silvretta", stage="global"))
    assert report.write  # the report still exists and can be written
