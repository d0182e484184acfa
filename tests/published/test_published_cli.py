"""``facies-bench fingerprint`` and ``map -m published:fs4`` end to end, against the loopback server."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from facies_bench import schema
from facies_bench.cli.main import main


def test_fingerprint_json_reports_channel_means_and_every_batchnorm_layer(published_env, tiny_store, capsys):
    rc = main(["fingerprint", str(tiny_store.path), "-w", "fs1/fold0", "-w", "fs4/fold2", "--n-patches", "64", "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    report = json.loads(out)
    assert report["n_patches"] == 64 and report["normalisation"] == "published"
    assert set(report["data_means"]) == set(schema.FEATURE_NAMES)
    fs1, fs4 = report["models"]
    assert fs1["name"] == "fs1/fold0" and set(fs1["implied_means"]) == set(schema.OPTICAL_FEATURES)
    assert len(fs4["layers"]) == 6 and fs4["fit_r2"] > 0.99
    assert 0 <= fs4["accuracy"] <= 1 and np.isfinite(fs4["deeper_offset_sd"])
    # the real data's channel means, as the weights give them (issue 14's table)
    assert fs4["implied_means"]["shadow_mask"] == pytest.approx(0.91, abs=0.03)


def test_fingerprint_of_whole_scene_glacier_pixels(published_env, tiny_store, capsys):
    scene_id = tiny_store.scene_ids[1]
    rc = main(["fingerprint", str(tiny_store.path), "--scene-id", scene_id, "-w", "fs1/fold0", "--n-patches", "40", "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    report = json.loads(out)
    assert report["n_patches"] == 40 and report["models"][0]["accuracy"] is not None  # true facies map as labels


def test_fingerprint_per_class_and_per_region_add_up_to_the_overall_scores(published_env, tiny_store, capsys):
    rc = main(["fingerprint", str(tiny_store.path), "-w", "fs4/fold0", "--n-patches", "96", "--by", "region", "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    report = json.loads(out)
    model = report["models"][0]
    sizes = report["group_sizes"]
    regions = set(np.asarray(tiny_store.attrs["region_names"])[np.unique(tiny_store.column("region"))])
    assert set(sizes) <= regions and sum(sizes.values()) == 96 and set(model["group_accuracy"]) == set(sizes)
    # the size-weighted accuracy of the regions is the overall accuracy, and macro-F1 the mean of the classes' F1
    weighted = sum(model["group_accuracy"][g] * n for g, n in sizes.items()) / 96
    assert weighted == pytest.approx(model["accuracy"])
    assert set(model["class_f1"]) <= set(schema.CLASS_NAMES)
    assert np.mean(list(model["class_f1"].values())) == pytest.approx(model["macro_f1"])


def test_fingerprint_by_needs_labelled_points(published_env, tiny_store, capsys):
    assert main(["fingerprint", str(tiny_store.path), "--by", "aspect"]) == 2
    assert "--by must be region, sensor, glacier or scene" in capsys.readouterr().err
    scene_id = tiny_store.scene_ids[0]
    assert main(["fingerprint", str(tiny_store.path), "--by", "sensor", "--scene-id", scene_id]) == 2
    assert "cannot be used with --scene-id" in capsys.readouterr().err


def test_fingerprint_table_and_bad_norm_stats(published_env, tiny_store, capsys):
    assert main(["fingerprint", str(tiny_store.path), "-w", "fs2/fold0", "--n-patches", "32"]) == 0
    out = capsys.readouterr().out
    assert "real (models)" in out and "slope" in out and "hillshade" not in out  # fs2 has 8 channels
    assert "BN6" in out and "fs2/fold0" in out
    assert "F1 per class" in out and "Accuracy per group" not in out  # no --by, no group table
    assert main(["fingerprint", str(tiny_store.path), "--norm-stats", "minmax"]) == 2
    assert "--norm-stats must be 'published' or 'store'" in capsys.readouterr().err


def test_map_with_the_published_fs4_ensemble_on_a_store_scene(published_env, tiny_store, tmp_path, capsys):
    scene_id = tiny_store.scene_ids[0]
    out_tif = tmp_path / "facies.tif"
    rc = main(["map", "-m", "published:fs4", "--store", str(tiny_store.path), "--scene-id", scene_id, "-o", str(out_tif),
               "--confidence", str(tmp_path / "conf.tif")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "with 6 model(s)" in out and "against the true facies map" in out
    with rasterio.open(tmp_path / "conf.tif") as src:
        tags = src.tags()
        conf = src.read(1)
    assert tags["CALIBRATED"] == "True"  # the published calibration models were applied
    assert np.nanmax(conf) <= 1.0
    # --norm-stats only concerns published models
    assert main(["map", "-m", str(out_tif), "--norm-stats", "identity", "--store", str(tiny_store.path), "--scene-id", scene_id,
                 "-o", str(tmp_path / "x.tif")]) == 2
    assert "--norm-stats applies to published models only" in capsys.readouterr().err
