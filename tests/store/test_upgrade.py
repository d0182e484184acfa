"""``facies-bench data upgrade``: schema-1 converted releases re-laid out, values and hash unchanged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import zarr

from facies_bench.cli.main import main
from facies_bench.data.store import _SAMPLE_DTYPES, SAMPLE_COLUMNS, open_store
from facies_bench.data.upgrade import upgrade_store
from facies_bench.data.verify import verify_store
from facies_bench.errors import ConversionError, StoreFormatError


def make_v1_store(source, path: Path, *, synthetic: bool = False) -> dict:
    """The schema-1 layout (64-patch chunks, no checksums, no inventory) of ``source``'s data.

    A converted release has no ``labels/true``; its content hash covers patches, sample columns and
    raw labels, in that order (the schema-1 builder's definition).
    """
    g = zarr.open_group(str(path), mode="w", zarr_format=3)
    patches = source.read_patches(slice(None))
    n = len(patches)
    arr = g.create_array("patches", shape=patches.shape, chunks=(64, *patches.shape[1:]), dtype="float32",
                         compressors=[zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")], fill_value=np.nan)
    arr[:] = patches
    digest = hashlib.blake2b(digest_size=16)
    digest.update(patches.tobytes())
    cols = {c: source.column(c).astype(_SAMPLE_DTYPES[c]) for c in SAMPLE_COLUMNS}
    for c in SAMPLE_COLUMNS:
        g.create_array(f"samples/{c}", data=cols[c], chunks=(n,))
    digest.update(b"".join(cols[c].tobytes() for c in SAMPLE_COLUMNS))
    raw = source.labels("raw")
    g.create_array("labels/raw", data=raw, chunks=(n,))
    digest.update(raw.tobytes())
    variant = raw.copy()
    variant[::7] = -1
    g.create_array("labels/cl-old", data=variant, chunks=(n,))
    attrs = {k: v for k, v in source.attrs.items() if k not in ("integrity", "label_variants", "default_cleaned")}
    attrs.update({"schema_version": 1, "is_synthetic": synthetic, "content_hash": "blake2b:" + digest.hexdigest(),
                  "label_variants": {"cl-old": {"method": "test", "labels_hash": "blake2b:" + hashlib.blake2b(variant.tobytes(), digest_size=16).hexdigest()}},
                  "default_cleaned": "cl-old", "provenance": {"source": "published release", "scale": 1, "seed": 3},
                  "scene_ids": list(source.scene_ids)})
    g.attrs.update(attrs)
    return {"patches": patches, "raw": raw, "variant": variant, "content_hash": attrs["content_hash"]}


def test_old_store_is_refused_with_the_upgrade_command(tiny_store, tmp_path):
    old = tmp_path / "old.zarr"
    make_v1_store(tiny_store, old)
    with pytest.raises(StoreFormatError, match=f"facies-bench data upgrade {old} -o NEW"):
        open_store(old)


def test_upgrade_keeps_values_and_content_hash(tiny_store, tmp_path, capsys):
    old, new = tmp_path / "old.zarr", tmp_path / "new.zarr"
    expected = make_v1_store(tiny_store, old)
    assert main(["data", "upgrade", str(old), "-o", str(new)]) == 0
    assert expected["content_hash"] in capsys.readouterr().out
    store = open_store(new)
    assert store.content_hash == expected["content_hash"]
    assert not store.is_synthetic and store.attrs["schema_version"] == 2
    np.testing.assert_array_equal(store.read_patches(slice(None)), expected["patches"])
    np.testing.assert_array_equal(store.labels("raw"), expected["raw"])
    np.testing.assert_array_equal(store.labels("cleaned"), expected["variant"])
    assert store.default_cleaned == "cl-old" and store.variant_info("cl-old")["method"] == "test"
    assert store.attrs["provenance"]["upgraded_from"]["schema_version"] == 1
    assert store.patches.shards is not None and store.patches.chunks[0] == 1
    report = verify_store(new, full=True)
    assert report.ok, report.problems
    assert report.content_hash == expected["content_hash"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.zarr", "old.zarr"]  # no staging left


def test_synthetic_v1_store_is_rebuilt_not_upgraded(tiny_store, tmp_path, capsys):
    old = tmp_path / "old.zarr"
    make_v1_store(tiny_store, old, synthetic=True)
    capsys.readouterr()
    assert main(["data", "upgrade", str(old), "-o", str(tmp_path / "new.zarr")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "synthetic stores are rebuilt, not upgraded" in err and "facies-bench data synth" in err
    assert not (tmp_path / "new.zarr").exists()
    with pytest.raises(StoreFormatError, match="facies-bench data synth"):
        open_store(old)


def test_upgrade_publishes_nothing_when_the_hash_differs(tiny_store, tmp_path):
    old, new = tmp_path / "old.zarr", tmp_path / "new.zarr"
    make_v1_store(tiny_store, old)
    meta = json.loads((old / "zarr.json").read_text())
    meta["attributes"]["content_hash"] = "blake2b:" + "0" * 32
    (old / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(ConversionError, match="content hash"):
        upgrade_store(old, new)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.zarr"]


def test_current_store_needs_no_upgrade(tiny_store_path, tmp_path):
    with pytest.raises(StoreFormatError, match="nothing to upgrade"):
        upgrade_store(tiny_store_path, tmp_path / "new.zarr")
