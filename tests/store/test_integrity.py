"""Damaged stores are detected, named by file, and refused by every reader (issue 19)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facies_bench.cli.main import main
from facies_bench.data.store import PATCH_SHARD, open_store
from facies_bench.data.verify import verify_store
from facies_bench.errors import StoreDamagedError

SHARD0 = "patches/c/0/0/0/0"
SHARD1 = "patches/c/1/0/0/0"


def _verify_lines(capsys, store: Path, *extra: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    rc = main(["data", "verify", str(store), *extra])
    out = capsys.readouterr().out
    return rc, [line for line in out.splitlines() if line.strip()]


def _refused(store: Path, *names: str) -> str:
    with pytest.raises(StoreDamagedError) as info:
        open_store(store)
    msg = str(info.value)
    for name in names:
        assert name in msg
    assert f"facies-bench data verify {store}" in msg
    return msg


def test_sound_store_verifies(tiny_store_copy, capsys):
    rc, lines = _verify_lines(capsys, tiny_store_copy, "--full")
    assert rc == 0
    assert lines[-1].startswith("ok:") and open_store(tiny_store_copy).content_hash in lines[-1]
    layout = json.loads((tiny_store_copy / "patches" / "zarr.json").read_text())["codecs"][0]
    assert layout["name"] == "sharding_indexed"
    assert layout["configuration"]["chunk_shape"][0] == 1
    assert [c["name"] for c in layout["configuration"]["codecs"]][-1] == "crc32c"
    assert [c["name"] for c in layout["configuration"]["index_codecs"]][-1] == "crc32c"
    for name in ("labels/raw", "samples/fold"):
        codecs = json.loads((tiny_store_copy / name / "zarr.json").read_text())["codecs"]
        assert codecs[-1]["name"] == "crc32c"


def test_deleted_chunk(tiny_store_copy, capsys):
    (tiny_store_copy / SHARD1).unlink()
    msg = _refused(tiny_store_copy, SHARD1)
    assert "missing" in msg
    rc, lines = _verify_lines(capsys, tiny_store_copy)
    assert rc == 1
    assert lines == [f"{tiny_store_copy}/{SHARD1}: chunk file is missing (array patches)"]


def test_truncated_chunk(tiny_store_copy, capsys):
    path = tiny_store_copy / SHARD0
    size = path.stat().st_size
    os.truncate(path, size - 100)
    _refused(tiny_store_copy, SHARD0, f"{size - 100} bytes")
    rc, lines = _verify_lines(capsys, tiny_store_copy)
    assert rc == 1 and len(lines) == 1 and SHARD0 in lines[0]


def test_zeroed_bytes_fail_the_checksum_on_every_read_path(tiny_store_copy, tiny_store, capsys):
    path = tiny_store_copy / SHARD0
    with open(path, "r+b") as fh:  # inside the inner chunks, not the index
        fh.seek(path.stat().st_size // 3)
        fh.write(b"\0" * 64)
    store = open_store(tiny_store_copy)  # same sizes: opening is fine ...
    good = store.read_patches(slice(PATCH_SHARD, PATCH_SHARD + 4))  # ... and other shards read
    np.testing.assert_array_equal(good, tiny_store.read_patches(slice(PATCH_SHARD, PATCH_SHARD + 4)))
    with pytest.raises(StoreDamagedError, match=SHARD0) as info:  # TensorStore path, whole shard
        store.read_patches(slice(0, PATCH_SHARD))
    assert "verify" in str(info.value) and "--full" in str(info.value)
    with pytest.raises(StoreDamagedError, match=SHARD0):  # zarr-python path (a URL store reads this way)
        store._ts_handles["patches"] = None
        store.read_patches(np.arange(PATCH_SHARD))
    rc, lines = _verify_lines(capsys, tiny_store_copy, "--full")
    assert rc == 1 and any(line.startswith(f"{tiny_store_copy}/{SHARD0}: ") and "decoded" in line for line in lines)


def test_a_refused_read_exits_without_asyncio_noise(tiny_store_copy):
    """The clean refusal is the last thing printed: no "Task was destroyed" from zarr's loop at exit."""
    path = tiny_store_copy / SHARD0
    with open(path, "r+b") as fh:
        fh.seek(path.stat().st_size // 3)
        fh.write(b"\0" * 64)
    script = ("import sys, numpy as np\n"
              "from facies_bench.data.store import open_store\n"
              "from facies_bench.errors import StoreDamagedError\n"
              "try:\n"
              f"    open_store({str(tiny_store_copy)!r}).read_patches(np.arange({PATCH_SHARD}))\n"
              "except StoreDamagedError as exc:\n"
              "    print('refused', exc, file=sys.stderr)\n"
              "    sys.exit(1)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "refused" in run.stderr and SHARD0 in run.stderr
    assert "Task was destroyed" not in run.stderr and "never awaited" not in run.stderr, run.stderr[-2000:]


def test_zeroed_sample_column_is_named(tiny_store_copy):
    path = next((tiny_store_copy / "samples" / "glacier" / "c").iterdir())
    data = bytearray(path.read_bytes())
    data[8:40] = b"\0" * 32
    path.write_bytes(bytes(data))
    store = open_store(tiny_store_copy)
    with pytest.raises(StoreDamagedError, match="samples/glacier/c/0"):
        store.metadata()


def test_two_chunk_files_swapped(tiny_store_copy, capsys):
    a, b = tiny_store_copy / SHARD0, tiny_store_copy / SHARD1
    tmp = a.with_name("swap")
    os.replace(a, tmp)
    os.replace(b, a)
    os.replace(tmp, b)
    rc, lines = _verify_lines(capsys, tiny_store_copy)
    assert rc == 1
    assert {SHARD0, SHARD1} <= {line.split(": ")[0][len(str(tiny_store_copy)) + 1:] for line in lines}
    if a.stat().st_size != b.stat().st_size:  # the usual case: refused on open already
        _refused(tiny_store_copy, SHARD0, SHARD1)


def test_two_equal_size_files_swapped_are_caught_by_verify(tiny_store_copy, capsys):
    # samples/row and samples/col hold the same dtype and length; force equal sizes by swapping a
    # column file with a copy of itself from another store is impossible, so swap two label copies.
    store = open_store(tiny_store_copy, mode="r+")
    labels = store.labels()
    store.write_label_variant("a", labels, {"by": "test"})
    flipped = labels.copy()
    flipped[:2] = flipped[1::-1] if flipped[0] != flipped[1] else (flipped[:2] + 1) % 8
    store.write_label_variant("b", flipped, {"by": "test"})
    fa, fb = tiny_store_copy / "labels/a/c/0", tiny_store_copy / "labels/b/c/0"
    if fa.stat().st_size != fb.stat().st_size:
        pytest.skip("the two label chunks compress to different sizes")
    da, db = fa.read_bytes(), fb.read_bytes()
    fa.write_bytes(db)
    fb.write_bytes(da)
    rc, lines = _verify_lines(capsys, tiny_store_copy)
    assert rc == 1
    assert any("labels/a/c/0" in line and "swapped" in line for line in lines)
    assert any("labels/b/c/0" in line and "swapped" in line for line in lines)


def test_edited_array_metadata(tiny_store_copy, capsys):
    meta_file = tiny_store_copy / "patches" / "zarr.json"
    meta = json.loads(meta_file.read_text())
    meta["fill_value"] = 0.0
    meta_file.write_text(json.dumps(meta))
    _refused(tiny_store_copy, "patches/zarr.json", "edited")
    rc, lines = _verify_lines(capsys, tiny_store_copy)
    assert rc == 1 and lines[0].startswith(f"{tiny_store_copy}/patches/zarr.json: ")


def test_edited_root_attributes(tiny_store_copy, capsys):
    meta_file = tiny_store_copy / "zarr.json"
    meta = json.loads(meta_file.read_text())
    meta["attributes"]["feature_max"][0] = 99.0
    meta_file.write_text(json.dumps(meta))
    _refused(tiny_store_copy, "zarr.json", "root attributes were changed")
    rc, lines = _verify_lines(capsys, tiny_store_copy)
    assert rc == 1 and lines[0].startswith(f"{tiny_store_copy}/zarr.json: ")


def test_label_variant_removed_by_hand(tiny_store_copy, capsys):
    store = open_store(tiny_store_copy, mode="r+")
    store.write_label_variant("cl-test", store.labels(), {"by": "test"})
    assert open_store(tiny_store_copy).variants == ("raw", "cl-test")
    shutil.rmtree(tiny_store_copy / "labels" / "cl-test")
    _refused(tiny_store_copy, "labels/cl-test/zarr.json")
    rc, lines = _verify_lines(capsys, tiny_store_copy)
    assert rc == 1 and any("labels/cl-test/zarr.json" in line for line in lines)


def test_label_variants_keep_the_store_verifiable(tiny_store_copy):
    store = open_store(tiny_store_copy, mode="r+")
    store.write_label_variant("v1", store.labels(), {"by": "test"})
    store.write_label_variant("v1", store.labels(), {"by": "test again"}, overwrite=True)
    store.set_default_cleaned("v1")
    assert verify_store(tiny_store_copy, full=True).ok
    inventories = [p.name for p in tiny_store_copy.iterdir() if p.name.startswith("facies-inventory-")]
    assert len(inventories) == 1  # old inventories are removed once the attributes name the new one


@pytest.mark.parametrize("command", [
    ["data", "info", "{store}"],
    ["score", "{store}/none.parquet", "--store", "{store}", "-o", "{store}-report"],
    ["evaluate", "test_logreg", "--store", "{store}", "--folds", "0", "-o", "{store}-run"],
    ["leaderboard", "add", "{store}/no-run", "--store", "{store}"],
    ["clean", "{store}/no-run", "--store", "{store}", "--name", "x"],
])
def test_commands_refuse_a_damaged_store(tiny_store_copy, capsys, command):
    (tiny_store_copy / SHARD1).unlink()
    capsys.readouterr()
    rc = main([part.format(store=tiny_store_copy) for part in command])
    err = capsys.readouterr().err
    assert rc == 2
    assert SHARD1 in err and "facies-bench data verify" in err
    assert not Path(f"{tiny_store_copy}-run").exists() and not Path(f"{tiny_store_copy}-report").exists()


def test_load_dataset_refuses_a_damaged_store(tiny_store_copy):
    pytest.importorskip("datasets")
    from facies_bench.data.hf import load_dataset

    (tiny_store_copy / "samples" / "fold" / "c" / "0").unlink()
    with pytest.raises(StoreDamagedError, match="samples/fold/c/0"):
        load_dataset(store=tiny_store_copy)


def test_evaluate_stops_on_a_corrupt_chunk_and_writes_no_result(tiny_store_copy, tmp_path, capsys):
    path = tiny_store_copy / SHARD0
    with open(path, "r+b") as fh:
        fh.seek(path.stat().st_size // 3)
        fh.write(b"\0" * 64)
    out = tmp_path / "run"
    capsys.readouterr()
    rc = main(["evaluate", "test_logreg", "--store", str(tiny_store_copy), "--folds", "0", "--epochs", "1", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert SHARD0 in err and "facies-bench data verify" in err
    assert not (out / "result.json").exists()


def test_tensorstore_drivers_for_urls():
    from facies_bench.data.store import tensorstore_kvstore

    env = {"AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID"), "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY")}
    assert tensorstore_kvstore("s3://b/p/s.zarr", {"endpoint_url": "http://h:1", "anon": True}) == {
        "driver": "s3", "bucket": "b", "path": "p/s.zarr/", "endpoint": "http://h:1", "aws_credentials": {"type": "anonymous"},
        **({"aws_region": os.environ.get("AWS_REGION") or os.environ["AWS_DEFAULT_REGION"]}
           if os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") else {})}
    assert tensorstore_kvstore("gs://b/s.zarr") == {"driver": "gcs", "bucket": "b", "path": "s.zarr/"}
    assert tensorstore_kvstore("https://h.org/d/s.zarr") == {"driver": "http", "base_url": "https://h.org", "path": "/d/s.zarr/"}
    if env["AWS_ACCESS_KEY_ID"] != "k-not-in-env":  # explicit keys TensorStore cannot take: fsspec reads
        assert tensorstore_kvstore("s3://b/s.zarr", {"key": "k-not-in-env", "secret": "s"}) is None
    assert tensorstore_kvstore("memory://s.zarr") is None
    assert tensorstore_kvstore("s3://b/s.zarr", {"requester_pays": True}) is None


def test_map_refuses_a_store_with_a_damaged_scene(tiny_store_copy, tiny_store, tmp_path, capsys):
    from facies_bench.models import save_checkpoint
    from facies_bench.testing.mapping import make_paper_model

    checkpoint = tmp_path / "model.pt"
    save_checkpoint(make_paper_model(tiny_store, seed=0), checkpoint)
    scene_id = tiny_store.scene_ids[0]
    chunk = next((tiny_store_copy / "scenes" / scene_id / "features" / "c").rglob("*"))
    while chunk.is_dir():
        chunk = next(chunk.iterdir())
    chunk.unlink()
    capsys.readouterr()
    rc = main(["map", "--model", str(checkpoint), "--store", str(tiny_store_copy), "--scene-id", scene_id,
               "-o", str(tmp_path / "facies.tif")])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(chunk.relative_to(tiny_store_copy)) in err and "facies-bench data verify" in err
    assert not (tmp_path / "facies.tif").exists()
