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
from typing import TYPE_CHECKING

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
    read_array,
    zarr_array,
    zarr_group,
)
from facies_bench.errors import (
    ConversionError,
    DatasetNotFoundError,
    FaciesBenchError,
    StoreFormatError,
)

if TYPE_CHECKING:
    import zarr

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
    _check_upgradable(old, new, attrs, overwrite=overwrite)
    group = zarr.open_group(str(old), mode="r")
    staging = new.with_name(f".{new.name}.upgrade-{uuid.uuid4().hex[:8]}")
    try:
        built = _build_copy(group, attrs, old, staging, progress=progress)
        if built.content_hash != attrs.get("content_hash"):
            msg = (f"Upgrading {str(old)!r} changed its content hash ({attrs.get('content_hash')} -> {built.content_hash}); "
                   "the old store may be damaged or was written differently. Nothing was written to "
                   f"{str(new)!r}; check the old store, or rebuild it with `facies-bench data convert`.")
            raise ConversionError(msg)
        _copy_label_variants(group, attrs, open_store(staging, mode="r+"), old=old, new=new)
        replace_dir(staging, new)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("upgraded %s (schema %s) -> %s", old, attrs.get("schema_version"), new)
    return open_store(new)


def _check_upgradable(old: Path, new: Path, attrs: dict, *, overwrite: bool) -> None:
    """Refuse a current, newer or synthetic store, an existing ``new`` (unless overwritten) and ``new == old``."""
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


def _build_copy(group: zarr.Group, attrs: dict, old: Path, staging: Path, *,
                progress: Callable[[int, int], None] | None) -> FaciesStore:
    """Build the current layout of the old store at ``staging``: scenes, patches, samples, raw and true labels."""
    n = int(attrs["n_samples"])
    builder = StoreBuilder(staging, n_samples=n, dataset_name=attrs["dataset_name"], dataset_version=attrs["dataset_version"],
                           is_synthetic=False, provenance=attrs.get("provenance", {}),
                           sensor_names=tuple(attrs["sensor_names"]))
    with builder:
        _copy_scenes(group, attrs.get("scene_ids", []), builder)
        patches = zarr_array(group, "patches")
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            builder.write_patches(start, read_array(patches, slice(start, stop)).astype(np.float32, copy=False))
            if progress is not None:
                progress(stop, n)
        cols: dict[str, np.ndarray] = {c: read_array(zarr_array(group, f"samples/{c}")) for c in SAMPLE_COLUMNS}
        for col, table in (("glacier", "glacier_names"), ("region", "region_names"), ("sensor", "sensor_names")):
            cols[col] = _names(cols[col], attrs[table], col, old)
        builder.set_samples(cols)
        true = read_array(zarr_array(group, "labels/true")) if "labels/true" in group else None
        builder.set_labels(read_array(zarr_array(group, "labels/raw")), true=true)
        builder.update_provenance(upgraded_from={"path": str(old.resolve()), "schema_version": attrs.get("schema_version"),
                                                 "content_hash": attrs.get("content_hash")})
        return builder.finish()  # renamed to the staging path, not yet to the new path


def _copy_scenes(group: zarr.Group, scene_ids: list[str], builder: StoreBuilder) -> None:
    """Copy every scene's rasters; a scene without rasters (a converted release) is declared by id."""
    for scene_id in scene_ids:
        key = f"scenes/{scene_id}"
        if key not in group:
            builder.declare_scene(scene_id)
            continue
        g = zarr_group(group, key)
        info = SceneInfo.from_attrs(dict(g.attrs))
        optional = {name: read_array(zarr_array(g, name)) for name in ("dem", "true_facies") if name in g}
        builder.add_scene(info, read_array(zarr_array(g, "features")),
                          read_array(zarr_array(g, "outline")).astype(bool), **optional)


def _copy_label_variants(group: zarr.Group, attrs: dict, staged: FaciesStore, *, old: Path, new: Path) -> None:
    """Copy the cleaned label variants (checked against their recorded hashes) and the remaining attributes."""
    for name, info in attrs.get("label_variants", {}).items():
        labels = read_array(zarr_array(group, f"labels/{name}"))
        provenance = {k: v for k, v in info.items() if k != "labels_hash"}
        staged.write_label_variant(name, labels, provenance, make_default=False)
        if info.get("labels_hash") and staged.attrs["label_variants"][name]["labels_hash"] != info["labels_hash"]:
            raise ConversionError(f"Label variant {name!r} of {str(old)!r} does not match its recorded hash; nothing was written to {str(new)!r}.")
    extra = {k: v for k, v in attrs.items() if k not in _BUILT_ATTRS}
    if attrs.get("default_cleaned"):
        extra["default_cleaned"] = attrs["default_cleaned"]
    if extra:
        staged._set_attrs(**extra)
