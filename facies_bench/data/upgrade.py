"""``facies-bench data upgrade OLD -o NEW``: re-lay a schema-1 converted release out as schema 2.

Schema 2 changes the layout only for converted releases: sharded patches with one-patch inner
chunks, crc32c on every chunk and shard index, every chunk written, and the inventory.  The
values are copied unchanged (same samples, labels, label variants and patches), so the content
hash of the new store equals the old one; the upgrade checks that before it publishes the store.

Synthetic stores are refused: schema 2 also changed the simulator's feature conventions (shadow
mask 1 = lit, proximity = distance / maximum), so a synthetic store is rebuilt with
``facies-bench data synth``, not upgraded.

The new store is built in a temporary sibling of ``NEW`` and renamed into place only after the
content hash matched and every label variant was copied: an interrupted upgrade leaves nothing
that opens as a store.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facies_bench import schema
from facies_bench.atomic import replace_dir
from facies_bench.data.store import (
    FORMAT_NAME,
    SAMPLE_COLUMNS,
    FaciesStore,
    SceneInfo,
    StoreBuilder,
    _is_url,
    open_store,
)
from facies_bench.errors import (
    ConversionError,
    DatasetNotFoundError,
    FaciesBenchError,
    StoreFormatError,
)

log = logging.getLogger(__name__)

#: Rows copied per block (a multiple of the shard size keeps every shard written once).
_BLOCK = 4096
#: Attributes the builder or the label-variant writer set themselves.
_BUILT_ATTRS = {"format", "schema_version", "dataset_name", "dataset_version", "content_hash", "class_names",
                "feature_names", "feature_min", "feature_max", "glacier_names", "region_names", "sensor_names",
                "scene_ids", "n_samples", "is_synthetic", "provenance", "label_variants", "complete", "created",
                "fold_ranges", "default_cleaned", "integrity"}


def _old_attrs(path: Path) -> dict:
    meta_file = path / "zarr.json"
    if not meta_file.is_file():
        raise DatasetNotFoundError(f"No facies store at {str(path)!r}: {meta_file} does not exist.")
    try:
        attrs = json.loads(meta_file.read_text()).get("attributes", {})
    except ValueError as exc:
        raise StoreFormatError(f"{str(meta_file)!r} is not JSON ({exc}); {str(path)!r} is not a facies store.") from exc
    if attrs.get("format") != FORMAT_NAME:
        msg = f"{str(path)!r} is not a facies store: attribute 'format' is {attrs.get('format')!r}, expected {FORMAT_NAME!r}."
        raise StoreFormatError(msg)
    if not attrs.get("complete"):
        raise StoreFormatError(f"{str(path)!r} is an incomplete facies store (its build was interrupted); it cannot be upgraded.")
    return attrs


def _names(codes: np.ndarray, table: list[str], what: str, path: Path) -> np.ndarray:
    table_arr = np.asarray(list(table), dtype=object)
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= len(table_arr)):
        raise StoreFormatError(f"{str(path)!r}: samples/{what} has codes outside 0..{len(table_arr) - 1}.")
    return table_arr[codes]


def upgrade_store(old: str | os.PathLike, new: str | os.PathLike, *, overwrite: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> FaciesStore:
    """Copy an older converted-release store into the current layout (values unchanged).

    Args:
        old: the schema-1 store (local path).
        new: where to write the upgraded store.
        overwrite: replace an existing ``new``.
        progress: called as ``progress(rows_done, n_rows)``.

    Returns:
        The upgraded store, opened.

    Raises:
        StoreFormatError: ``old`` is not a facies store, is synthetic, or is already current.
        ConversionError: the copy's content hash differs from the original's (nothing is written).
    """
    import zarr

    if _is_url(old) or _is_url(new):
        raise FaciesBenchError(f"Stores are upgraded on local disk; copy {old!s} here first and upload {new!s} afterwards.")
    old, new = Path(old), Path(new)
    attrs = _old_attrs(old)
    version = attrs.get("schema_version")
    if version == schema.SCHEMA_VERSION:
        raise StoreFormatError(f"{str(old)!r} already has store schema version {version}; there is nothing to upgrade.")
    if not isinstance(version, int) or version > schema.SCHEMA_VERSION:
        raise StoreFormatError(f"{str(old)!r} has store schema version {version!r}, newer than this facies-bench ({schema.SCHEMA_VERSION}); install a newer facies-bench.")
    if attrs.get("is_synthetic"):
        prov = attrs.get("provenance", {})
        hint = " ".join(f"--{k} {prov[k]}" for k in ("scale", "seed") if k in prov)
        msg = (f"{str(old)!r} is a synthetic store: synthetic stores are rebuilt, not upgraded (the simulator changed in "
               f"schema version {schema.SCHEMA_VERSION}); run `facies-bench data synth -o {new}{' ' + hint if hint else ''}`.")
        raise StoreFormatError(msg)
    if new.exists() and not overwrite:
        raise FaciesBenchError(f"{str(new)!r} already exists; pass overwrite=True (--overwrite) to replace it.")
    if new.resolve() == old.resolve():
        raise FaciesBenchError(f"Write the upgraded store to a new path, not over {str(old)!r}.")

    group = zarr.open_group(str(old), mode="r")
    n = int(attrs["n_samples"])
    staging = new.with_name(f".{new.name}.upgrade-{uuid.uuid4().hex[:8]}")
    builder = StoreBuilder(staging, n_samples=n, dataset_name=attrs["dataset_name"], dataset_version=attrs["dataset_version"],
                           is_synthetic=False, provenance=attrs.get("provenance", {}),
                           sensor_names=tuple(attrs["sensor_names"]))
    try:
        with builder:
            for scene_id in attrs.get("scene_ids", []):
                key = f"scenes/{scene_id}"
                if key in group:
                    g = group[key]
                    info = SceneInfo.from_attrs(dict(g.attrs))
                    opt = {name: g[name][...] for name in ("dem", "true_facies") if name in g}
                    builder.add_scene(info, g["features"][...], g["outline"][...].astype(bool), **opt)
                else:
                    builder.declare_scene(scene_id)
            patches = group["patches"]
            for start in range(0, n, _BLOCK):
                stop = min(start + _BLOCK, n)
                builder.write_patches(start, np.asarray(patches[start:stop], dtype=np.float32))
                if progress is not None:
                    progress(stop, n)
            cols = {c: group[f"samples/{c}"][...] for c in SAMPLE_COLUMNS}
            for col, table in (("glacier", "glacier_names"), ("region", "region_names"), ("sensor", "sensor_names")):
                cols[col] = _names(cols[col], attrs[table], col, old)
            builder.set_samples(cols)
            true = group["labels/true"][...] if "labels/true" in group else None
            builder.set_labels(group["labels/raw"][...], true=true)
            builder.update_provenance(upgraded_from={"path": str(old.resolve()), "schema_version": version,
                                                     "content_hash": attrs.get("content_hash")})
            built = builder.finish()  # renamed to the staging path, not yet to ``new``
        if built.content_hash != attrs.get("content_hash"):
            msg = (f"Upgrading {str(old)!r} changed its content hash ({attrs.get('content_hash')} -> {built.content_hash}); "
                   "the old store may be damaged or was written differently. Nothing was written to "
                   f"{str(new)!r}; check the old store, or rebuild it with `facies-bench data convert`.")
            raise ConversionError(msg)
        staged = open_store(staging, mode="r+")
        for name, info in attrs.get("label_variants", {}).items():
            labels = group[f"labels/{name}"][...]
            provenance = {k: v for k, v in info.items() if k != "labels_hash"}
            staged.write_label_variant(name, labels, provenance, make_default=False)
            if info.get("labels_hash") and staged.attrs["label_variants"][name]["labels_hash"] != info["labels_hash"]:
                raise ConversionError(f"Label variant {name!r} of {str(old)!r} does not match its recorded hash; nothing was written to {str(new)!r}.")
        extra = {k: v for k, v in attrs.items() if k not in _BUILT_ATTRS}
        if attrs.get("default_cleaned"):
            extra["default_cleaned"] = attrs["default_cleaned"]
        if extra:
            staged._set_attrs(**extra)
        replace_dir(staging, new)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("upgraded %s (schema %s) -> %s", old, version, new)
    return open_store(new)
