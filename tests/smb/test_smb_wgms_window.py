"""WGMS table reading/writing, glacier matching and the acquisition window."""

from __future__ import annotations

import pandas as pd
import pytest

from facies_bench.errors import MassBalanceError, UnknownNameError
from facies_bench.smb import wgms
from facies_bench.smb.window import days_from_center, parse_center, select_window_scenes

FOG_CSV = """POLITICAL_UNIT,NAME,WGMS_ID,YEAR,LOWER_BOUND,UPPER_BOUND,AREA_SURVEY_YEAR,AREA_CHANGE,WINTER_BALANCE,WINTER_BALANCE_UNC,SUMMER_BALANCE,SUMMER_BALANCE_UNC,ANNUAL_BALANCE,ANNUAL_BALANCE_UNC,REMARKS
SJ,KONGSVEGEN,2,2013,9999,9999,,,700,,-900,,-200,,
SJ,KONGSVEGEN,2,2013,0,100,,,,,,,-1500,,band
SJ,KONGSVEGEN,2,2015,9999,9999,,,,,,,350,,
SJ,KONGSVEGEN,2,2016,9999,9999,,,,,,,,,no annual value
SJ,MIDTRE LOVENBREEN,3,2013,9999,9999,,,,,,,-1040,,
CH,SILVRETTA,4,2013,2400,2500,,,,,,,-2000,,
NO,STORBREEN,5,1995,9999,9999,,,,,,,120,,
"""


@pytest.fixture()
def fog(tmp_path):
    path = tmp_path / "fog.csv"
    path.write_text(FOG_CSV, encoding="latin-1")
    return path


def test_reads_glacier_wide_rows_in_m_we(fog):
    t = wgms.read_wgms_table(fog)
    assert list(zip(t["wgms_id"], t["year"], t["annual_balance"], strict=True)) == [
        (2, 2013, -0.2), (2, 2015, 0.35), (3, 2013, -1.04), (5, 1995, 0.12)]
    row = t.iloc[0]
    assert (row["winter_balance"], row["summer_balance"]) == (0.7, -0.9)


def test_bad_tables(tmp_path, fog):
    with pytest.raises(MassBalanceError, match="ANNUAL_BALANCE"):
        wgms.read_wgms_table(pd.read_csv(fog).drop(columns="ANNUAL_BALANCE"))
    dup = pd.concat([pd.read_csv(fog)] * 2)
    with pytest.raises(MassBalanceError, match="2/2013"):
        wgms.read_wgms_table(dup)
    bad = pd.read_csv(fog)
    bad["ANNUAL_BALANCE"] = bad["ANNUAL_BALANCE"].astype(object)
    bad.loc[0, "ANNUAL_BALANCE"] = "n/a?"
    with pytest.raises(MassBalanceError, match="non-numeric"):
        wgms.read_wgms_table(bad)
    with pytest.raises(FileNotFoundError):
        wgms.read_wgms_table(tmp_path / "missing.csv")


def test_mapping_by_id_and_by_name(fog):
    t = wgms.read_wgms_table(fog)
    mapping = wgms.read_glacier_mapping(pd.DataFrame({"glacier": ["kongsvegen", "Midtre Lovenbreen", "Silvretta", "Storbreen"],
                                                      "wgms_id": [2, None, 4, None]}))
    assert mapping["glacier"].tolist() == ["Kongsvegen", "Midtre Lovenbreen", "Silvretta", "Storbreen"]
    m = wgms.match_records(t, mapping)
    got = list(zip(m.records["glacier"], m.records["year"], m.records["smb"], strict=True))
    assert got == [("Kongsvegen", 2013, -0.2), ("Kongsvegen", 2015, 0.35), ("Midtre Lovenbreen", 2013, -1.04),
                   ("Storbreen", 1995, 0.12)]
    assert m.unmatched_glaciers == ["Silvretta"]  # only a band row exists
    with pytest.raises(UnknownNameError, match="Valid:"):
        wgms.read_glacier_mapping(pd.DataFrame({"glacier": ["Nowhere"], "wgms_id": [1]}))


def test_write_then_read_round_trip(tmp_path):
    rows = pd.DataFrame({"NAME": ["A", "A"], "WGMS_ID": [7, 7], "YEAR": [2001, 2001], "LOWER_BOUND": [9999, 100],
                         "UPPER_BOUND": [9999, 200], "ANNUAL_BALANCE": [-1234, 5]})
    path = wgms.write_wgms_table(rows, tmp_path / "out" / "mb.csv")
    assert list(pd.read_csv(path).columns) == list(wgms.WGMS_COLUMNS)
    t = wgms.read_wgms_table(path)
    assert t["annual_balance"].tolist() == [-1.234]
    assert not list((tmp_path / "out").glob(".*tmp*"))


def test_window_selection():
    scenes = pd.DataFrame({
        "scene_id": ["a", "b", "c", "d", "e"],
        "glacier": ["G1", "G1", "G1", "G2", "G2"],
        "date": ["2015-08-05", "2015-08-22", "2016-09-15", "2015-08-18", "2015-08-22"],
    })
    selected, excluded = select_window_scenes(scenes, window_days=20, center="08-20")
    assert selected["scene_id"].tolist() == ["b", "d"]  # d and e tie at 2 days: the earlier wins
    assert selected["offset_days"].tolist() == [2, -2]
    reasons = {e.scene_id: e.reason for e in excluded}
    assert set(reasons) == {"a", "c", "e"}
    assert "closer to 08-20: b" in reasons["a"]
    assert "+26 days" in reasons["c"] and "outside" in reasons["c"]
    selected, _ = select_window_scenes(scenes, window_days=30, center="09-10")
    assert set(selected["scene_id"]) == {"b", "c", "e"}


def test_window_arguments():
    assert parse_center("08-20") == (8, 20)
    assert days_from_center("2020-08-01") == -19
    for bad in ("8/20", "02-30", "13-01", "xx"):
        with pytest.raises(MassBalanceError, match="MM-DD"):
            parse_center(bad)
    with pytest.raises(MassBalanceError, match="0 or more"):
        select_window_scenes(pd.DataFrame({"scene_id": [], "glacier": [], "date": []}), window_days=-1)
