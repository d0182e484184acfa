"""``facies-bench data verify``: every problem of a store, one per file.

The default check is structural and fast: root attributes, the inventory and both digests,
every node's metadata digest, the listing against the inventory (missing, extra, resized chunk
files), every chunk file's fingerprint (its last four bytes: the stored crc32c), sample-table
consistency and every label variant's recorded hash.  ``full=True`` also decodes every chunk of
every array, which checks every crc32c, and recomputes the content hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facies_bench import schema
from facies_bench.data import integrity
from facies_bench.data.integrity import Problem
from facies_bench.data.store import (
    _SAMPLE_DTYPES,
    FORMAT_NAME,
    SAMPLE_COLUMNS,
    _is_url,
    find_bad_chunks,
    labels_hash,
    upgrade_command,
)

log = logging.getLogger(__name__)


@dataclass
class VerifyReport:
    """What :func:`verify_store` found."""

    path: str
    full: bool
    problems: list[Problem] = field(default_factory=list)
    n_files: int = 0  #: chunk files checked against the inventory
    n_arrays: int = 0
    content_hash: str | None = None  #: recomputed (full check only)

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the report."""
        return {"path": self.path, "full": self.full, "ok": self.ok, "n_files": self.n_files, "n_arrays": self.n_arrays,
                "content_hash": self.content_hash, "problems": [{"path": p.path, "message": p.message} for p in self.problems]}


def _root_attrs(files: integrity.StoreFiles) -> tuple[dict | None, list[Problem]]:
    try:
        raw = files.read("zarr.json")
    except (FileNotFoundError, OSError):
        return None, [Problem("zarr.json", "missing: this is not a Zarr v3 group (no root metadata)")]
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        return None, [Problem("zarr.json", f"not valid JSON ({exc})")]
    attrs = meta.get("attributes", {}) if isinstance(meta, dict) else {}
    if attrs.get("format") != FORMAT_NAME:
        return None, [Problem("zarr.json", f"attribute 'format' is {attrs.get('format')!r}, expected {FORMAT_NAME!r}")]
    if not attrs.get("complete"):
        return None, [Problem("zarr.json", "the store's build never finished (attribute 'complete' is not true)")]
    version = attrs.get("schema_version")
    if version != schema.SCHEMA_VERSION:
        how = (f"upgrade it with `{upgrade_command(files.path)}`" if not attrs.get("is_synthetic")
               else "rebuild it with `facies-bench data synth -o NEW`")
        return None, [Problem("zarr.json", f"store schema version {version!r}, this facies-bench reads {schema.SCHEMA_VERSION}; {how}")]
    return attrs, []


def verify_store(path: str | os.PathLike, *, full: bool = False, storage_options: dict | None = None) -> VerifyReport:
    """Check a store against its inventory (and, with ``full``, decode every chunk).

    Args:
        path: store path or fsspec URL.
        full: decode every chunk of every array and recompute the content hash.
        storage_options: fsspec options for URL stores.

    Returns:
        A :class:`VerifyReport`; ``report.problems`` is empty when the store is sound.
    """
    import zarr

    path = str(path)
    report = VerifyReport(path=path, full=full)
    if not _is_url(path) and not os.path.isdir(path):
        report.problems.append(Problem(".", f"no store directory at {path!r}"))
        return report
    files = integrity.StoreFiles(path, storage_options)
    attrs, problems = _root_attrs(files)
    report.problems += problems
    if attrs is None:
        return report
    variants = list(attrs.get("label_variants", {}))
    required = ("patches", "labels/raw", *(f"labels/{v}" for v in variants), *(f"samples/{c}" for c in SAMPLE_COLUMNS))
    report.problems += integrity.check_store(files, attrs, level="verify", required=required)
    inv, _ = integrity.load_inventory(files, attrs)
    if inv is not None:
        report.n_arrays = len(inv.get("arrays", {}))
        report.n_files = sum(len(a.get("chunks", {})) for a in inv.get("arrays", {}).values())

    kwargs: dict[str, Any] = {"storage_options": storage_options} if _is_url(path) else {}
    try:
        group = zarr.open_group(path, mode="r", **kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure is reported as a problem of the store
        report.problems.append(Problem("zarr.json", f"the root group cannot be opened ({exc})"))
        return report
    bad_files = {p.path for p in report.problems}

    def array(name: str):
        try:
            return group[name]
        except Exception as exc:  # noqa: BLE001 - any failure is reported as a problem of the store
            if f"{name}/zarr.json" not in bad_files:
                report.problems.append(Problem(f"{name}/zarr.json", f"array cannot be opened ({type(exc).__name__}: {exc})"))
            return None

    def read(name: str) -> np.ndarray | None:
        arr = array(name)
        if arr is None:
            return None
        bad = find_bad_chunks(arr, name, stop_at_first=False)
        if bad:
            report.problems.extend(p for p in bad if p.path not in bad_files)
            return None
        return arr[...]

    n = int(attrs.get("n_samples", -1))
    patches = array("patches")
    if patches is not None and patches.shape[:1] != (n,):
        report.problems.append(Problem("patches/zarr.json", f"shape {patches.shape} does not match n_samples={n}"))
    columns = {c: read(f"samples/{c}") for c in SAMPLE_COLUMNS}
    for c, values in columns.items():
        if values is not None and values.shape != (n,):
            report.problems.append(Problem(f"samples/{c}/zarr.json", f"shape {values.shape} does not match n_samples={n}"))
    folds = columns.get("fold")
    if folds is not None and folds.shape == (n,):
        for k, (start, stop) in attrs.get("fold_ranges", {}).items():
            if not np.all(folds[start:stop] == int(k)):
                report.problems.append(Problem("zarr.json", f"fold_ranges says rows {start}:{stop} are fold {k}; samples/fold disagrees"))
    raw = read("labels/raw")
    for v in variants:
        labels = read(f"labels/{v}")
        recorded = attrs["label_variants"][v].get("labels_hash")
        if labels is not None and recorded and labels_hash(labels) != recorded:
            report.problems.append(Problem(f"labels/{v}", f"label variant {v!r} does not match its recorded hash {recorded}"))

    if full:
        digest = hashlib.blake2b(digest_size=16)
        if patches is not None:
            bad = find_bad_chunks(patches, "patches", on_block=lambda _i, values: digest.update(
                np.ascontiguousarray(values, dtype=np.float32).tobytes()))
            report.problems.extend(p for p in bad if p.path not in bad_files)
        for name in (inv or {}).get("arrays", {}):
            if name == "patches" or name.startswith(("samples/", "labels/")):
                continue  # read above
            arr = array(name)
            if arr is not None:
                report.problems.extend(p for p in find_bad_chunks(arr, name) if p.path not in bad_files)
        true = read("labels/true") if "labels/true" in (inv or {}).get("arrays", {}) else None
        parts_ok = patches is not None and raw is not None and all(v is not None for v in columns.values())
        if parts_ok and not any(p.path.startswith("patches/") for p in report.problems):
            digest.update(b"".join(np.asarray(columns[c]).astype(_SAMPLE_DTYPES[c]).tobytes() for c in SAMPLE_COLUMNS))
            digest.update(np.asarray(raw, np.int8).tobytes())
            if true is not None:
                digest.update(np.asarray(true, np.int8).tobytes())
            report.content_hash = "blake2b:" + digest.hexdigest()
            if report.content_hash != attrs.get("content_hash"):
                report.problems.append(Problem("zarr.json", f"content hash recomputed from the data is {report.content_hash}; "
                                               f"the store records {attrs.get('content_hash')}"))
    log.info("verified %s: %d problem(s)", path, len(report.problems))
    return report
