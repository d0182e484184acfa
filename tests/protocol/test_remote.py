"""Stores on object storage: a tiny store served by a local S3-compatible server (moto)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

from facies_bench.data.remote import CACHE_MARKER, cache_store  # noqa: E402
from facies_bench.data.store import open_store  # noqa: E402
from facies_bench.protocol import ProtocolConfig, run_protocol  # noqa: E402

BUCKET = "facies-test"


@pytest.fixture(scope="module")
def s3_store(tiny_store_path, moto_s3):
    import s3fs

    fs = s3fs.S3FileSystem(**moto_s3)
    fs.mkdir(BUCKET)
    fs.put(str(tiny_store_path), f"{BUCKET}/tiny.zarr", recursive=True)
    return f"s3://{BUCKET}/tiny.zarr", moto_s3


def test_cache_store_copies_once(s3_store, tmp_path, tiny_store):
    url, options = s3_store
    calls = []
    local = cache_store(url, tmp_path / "cache", options, max_concurrency=4, progress=lambda i, n: calls.append((i, n)))
    copy = open_store(local)
    assert copy.content_hash == tiny_store.content_hash
    assert (copy.read_patches(slice(0, 70)) == tiny_store.read_patches(slice(0, 70))).all()
    assert (copy.labels() == tiny_store.labels()).all()
    assert calls and calls[-1][0] == calls[-1][1]
    assert not (local / "scenes").exists()  # patches and tables only by default
    marker = json.loads((local / CACHE_MARKER).read_text())
    assert marker["url"] == url
    mtime = (local / CACHE_MARKER).stat().st_mtime_ns
    calls.clear()
    assert cache_store(url, tmp_path / "cache", options) == local
    assert not calls and (local / CACHE_MARKER).stat().st_mtime_ns == mtime
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [local.name]  # no temporary left behind


def test_train_and_evaluate_from_object_storage(s3_store, tmp_path, tiny_store):
    """Store and run directory both on S3; then the same run from a local cache of the store."""
    import pandas as pd
    import s3fs

    url, options = s3_store
    run_url = f"s3://{BUCKET}/runs/quick"
    direct = run_protocol("test_logreg", url, ProtocolConfig(folds=(0, 1), n_bootstrap=10), run_url,
                          storage_options=options, run_storage_options=options)
    fs = s3fs.S3FileSystem(**options)
    saved = json.loads(fs.cat_file(f"{BUCKET}/runs/quick/result.json"))
    assert saved["store"]["content_hash"] == tiny_store.content_hash
    assert saved["metrics"]["unpruned"]["mean"]["macro_f1"] == pytest.approx(direct.result["metrics"]["unpruned"]["mean"]["macro_f1"])
    assert fs.exists(f"{BUCKET}/runs/quick/report/seed0/raw/report.md")
    assert fs.exists(f"{BUCKET}/runs/quick/units/{direct.units[0].unit_id}/unit.json")

    config = ProtocolConfig(folds=(0, 1), n_bootstrap=10, cache_dir=str(tmp_path / "cache"))
    cached = run_protocol("test_logreg", url, config, tmp_path / "cached", storage_options=options)
    assert any((tmp_path / "cache").iterdir())
    assert [u.unit_id for u in cached.units] == [u.unit_id for u in direct.units]
    with fs.open(f"{BUCKET}/runs/quick/predictions/seed0.parquet", "rb") as fh:
        remote_pred = pd.read_parquet(fh)
    local_pred = pd.read_parquet(tmp_path / "cached" / "predictions" / "seed0.parquet")
    pd.testing.assert_frame_equal(remote_pred, local_pred)
