"""``facies-bench smb --tables DIR``: the product tables of ``map --product`` as the SMB analysis input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facies_bench import schema
from facies_bench.cli.main import main
from facies_bench.errors import MassBalanceError
from facies_bench.products import write_product_table
from facies_bench.smb import run_smb
from facies_bench.smb.tables import ProductTablesSource
from facies_bench.smb.wgms import GLACIER_WIDE, write_glacier_mapping, write_wgms_table

GLACIERS = list(schema.GLACIER_NAMES[:3])
YEARS = list(range(2015, 2021))


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """One product table per year (three glaciers each), WGMS records and the glacier mapping."""
    root = tmp_path_factory.mktemp("smb_tables")
    rng = np.random.default_rng(0)
    records = []
    for year in YEARS:
        rows = []
        for gi, name in enumerate(GLACIERS):
            smb = float(rng.normal(-1.0, 0.6))
            area = 1.0e6 * (gi + 1) * (1.0 if year == YEARS[0] else 0.95)  # later outlines mapped slightly smaller
            snow_area = float(np.clip(0.45 + 0.25 * smb, 0.02, 0.95)) * 1.0e6 * (gi + 1)
            rows.append({"product_id": f"S2_{year}", "sensor": "Sentinel-2", "date": f"{year}-08-{18 + gi:02d}",
                         "acquired": f"{year}-08-{18 + gi:02d}T10:20:00+00:00", "glacier_id": f"RGI-{gi}",
                         "glacier_name": name, "status": "mapped", "area_m2": area, "elevation_mean_m": 2800.0,
                         "elevation_min_m": 2400.0 + (year - 2015), "elevation_max_m": 3400.0, "glacier_px": int(area / 100),
                         "mapped_px": int(area / 100), "nodata_px": 0, "snow_px": int(snow_area / 100),
                         "snow_area_m2": snow_area, "snow_ratio": snow_area / area, "snowline_m": 2900.0 - 150.0 * smb,
                         "snowline_norm": 0.0, "albedo": 0.45 + 0.05 * smb, "unobserved_fraction": 0.0,
                         "pixel_area_m2": 100.0, "issues": ""})
            records.append({"NAME": name.upper(), "WGMS_ID": 9000 + gi, "YEAR": year, "LOWER_BOUND": GLACIER_WIDE,
                            "UPPER_BOUND": GLACIER_WIDE, "ANNUAL_BALANCE": round(smb * 1000)})
        rows.append({"product_id": f"S2_{year}", "sensor": "Sentinel-2", "date": f"{year}-08-18",
                     "acquired": f"{year}-08-18T10:20:00+00:00", "glacier_id": "RGI-cloudy", "glacier_name": "",
                     "status": "no valid optical data over the glacier"})
        write_product_table(rows, root / "maps" / f"S2_{year}", product={"product_id": f"S2_{year}"})
    wgms = write_wgms_table(pd.DataFrame(records), root / "wgms.csv")
    mapping = write_glacier_mapping(pd.DataFrame({"glacier": GLACIERS, "wgms_id": [9000, 9001, 9002]}), root / "mapping.csv")
    return {"maps": root / "maps", "wgms": wgms, "mapping": mapping, "root": root}


def test_rows_become_scenes_with_the_earliest_hypsometry(tables):
    src = ProductTablesSource(tables["maps"])
    assert len(src.scenes()) == 18 and len(src.skipped) == 6
    report = run_smb(src, tables["wgms"], tables["mapping"])
    feats = report.features.sort_values(["glacier", "year"])
    assert len(feats) == 18 and feats["smb"].notna().all()
    later = feats[(feats["glacier"] == GLACIERS[1]) & (feats["year"] == 2018)].iloc[0]
    raw = pd.read_csv(tables["maps"] / "S2_2018" / "facies_table.csv").set_index("glacier_name").loc[GLACIERS[1]]
    assert later["snow_ratio"] == pytest.approx(raw["snow_area_m2"] / 2.0e6)  # the 2015 area, not the 2018 one
    assert later["snowline_norm"] == pytest.approx((raw["snowline_m"] - 2800.0) / (3400.0 - 2400.0))
    assert report.global_model.scores["n"] == 18


def test_cli_accepts_a_folder_of_tables(tables, capsys):
    out = tables["root"] / "smb_out"
    rc = main(["smb", "--tables", str(tables["maps"]), "--wgms", str(tables["wgms"]), "--mapping", str(tables["mapping"]),
               "-o", str(out)])
    text = capsys.readouterr()
    assert rc == 0, text.err
    features = pd.read_csv(out / "smb_features.csv")
    assert len(features) == 18 and set(features["glacier"]) == set(GLACIERS)
    assert np.corrcoef(features["snow_ratio"], features["smb"])[0, 1] > 0.9


def test_tables_mode_refuses_other_snow_settings_and_empty_folders(tables, tmp_path):
    report = run_smb(ProductTablesSource(tables["maps"]), tables["wgms"], tables["mapping"], snow_classes=("snow", "firn"))
    assert report.features.empty  # every glacier-year is left out, with the reason
    reasons = [item["reason"] for item in report.left_out if item["stage"] == "features"]
    assert len(reasons) == 18 and all("map the products again" in r for r in reasons)
    with pytest.raises(MassBalanceError, match="holds no facies_table.json"):
        ProductTablesSource(tmp_path)
