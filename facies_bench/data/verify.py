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
from typing import TYPE_CHECKING, Any

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
    read_array,
    upgrade_command,
    zarr_array,
)

if TYPE_CHECKING:
    import zarr

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
    inventory_arrays: dict[str, Any] = (inv or {}).get("arrays", {})
    if inv is not None:
        report.n_arrays = len(inventory_arrays)
        report.n_files = sum(len(a.get("chunks", {})) for a in inventory_arrays.values())

    try:
        group = zarr.open_group(path, mode="r", storage_options=storage_options if _is_url(path) else None)
    except Exception as exc:  # noqa: BLE001 - any failure is reported as a problem of the store
        report.problems.append(Problem("zarr.json", f"the root group cannot be opened ({exc})"))
        return report
    reader = _ArrayReader(group, report, bad_files={p.path for p in report.problems})
    n = int(attrs.get("n_samples", -1))
    patches = reader.array("patches")
    if patches is not None and patches.shape[:1] != (n,):
        report.problems.append(Problem("patches/zarr.json", f"shape {patches.shape} does not match n_samples={n}"))
    columns = _check_sample_columns(reader, attrs, n)
    raw = reader.read("labels/raw")
    for v in variants:
        labels = reader.read(f"labels/{v}")
        recorded = attrs["label_variants"][v].get("labels_hash")
        if labels is not None and recorded and labels_hash(labels) != recorded:
            report.problems.append(Problem(f"labels/{v}", f"label variant {v!r} does not match its recorded hash {recorded}"))
    if full:
        _check_every_chunk(reader, attrs, inventory_arrays, patches=patches, columns=columns, raw=raw)
    log.info("verified %s: %d problem(s)", path, len(report.problems))
    return report


class _ArrayReader:
    """Opens and reads the arrays of a store, adding every failure to the report once (per file)."""

    def __init__(self, group: zarr.Group, report: VerifyReport, *, bad_files: set[str]):
        self.group = group
        self.report = report
        self.bad_files = bad_files  #: files already reported by the inventory check

    def add(self, problems: list[Problem]) -> None:
        """Report the problems whose file is not reported yet."""
        self.report.problems.extend(p for p in problems if p.path not in self.bad_files)

    def array(self, name: str) -> zarr.Array | None:
        """The array ``name``, or None (reported) when it cannot be opened."""
        try:
            return zarr_array(self.group, name)
        except Exception as exc:  # noqa: BLE001 - any failure is reported as a problem of the store
            if f"{name}/zarr.json" not in self.bad_files:
                self.report.problems.append(Problem(f"{name}/zarr.json", f"array cannot be opened ({type(exc).__name__}: {exc})"))
            return None

    def read(self, name: str) -> np.ndarray | None:
        """All values of the array ``name``, or None (reported) when a chunk file fails to decode."""
        arr = self.array(name)
        if arr is None:
            return None
        bad = find_bad_chunks(arr, name, stop_at_first=False)
        if bad:
            self.add(bad)
            return None
        return read_array(arr)


def _check_sample_columns(reader: _ArrayReader, attrs: dict, n: int) -> dict[str, np.ndarray | None]:
    """Read the sample columns; check their lengths and the fold ranges against ``samples/fold``."""
    columns = {c: reader.read(f"samples/{c}") for c in SAMPLE_COLUMNS}
    for c, values in columns.items():
        if values is not None and values.shape != (n,):
            reader.report.problems.append(Problem(f"samples/{c}/zarr.json", f"shape {values.shape} does not match n_samples={n}"))
    folds = columns.get("fold")
    if folds is not None and folds.shape == (n,):
        for k, (start, stop) in attrs.get("fold_ranges", {}).items():
            if not np.all(folds[start:stop] == int(k)):
                reader.report.problems.append(Problem("zarr.json", f"fold_ranges says rows {start}:{stop} are fold {k}; samples/fold disagrees"))
    return columns


def _check_every_chunk(reader: _ArrayReader, attrs: dict, inventory_arrays: dict[str, Any], *,
                       patches: zarr.Array | None, columns: dict[str, np.ndarray | None],
                       raw: np.ndarray | None) -> None:
    """The full check: decode every chunk of every array and recompute the content hash."""
    report = reader.report
    digest = hashlib.blake2b(digest_size=16)
    if patches is not None:
        reader.add(find_bad_chunks(patches, "patches", on_block=lambda _i, values: digest.update(
            np.ascontiguousarray(values, dtype=np.float32).tobytes())))
    for name in inventory_arrays:
        if name == "patches" or name.startswith(("samples/", "labels/")):
            continue  # read already
        arr = reader.array(name)
        if arr is not None:
            reader.add(find_bad_chunks(arr, name))
    true = reader.read("labels/true") if "labels/true" in inventory_arrays else None
    parts_ok = patches is not None and raw is not None and all(v is not None for v in columns.values())
    if not parts_ok or any(p.path.startswith("patches/") for p in report.problems):
        return
    digest.update(b"".join(np.asarray(columns[c]).astype(_SAMPLE_DTYPES[c]).tobytes() for c in SAMPLE_COLUMNS))
    digest.update(np.asarray(raw, np.int8).tobytes())
    if true is not None:
        digest.update(np.asarray(true, np.int8).tobytes())
    report.content_hash = "blake2b:" + digest.hexdigest()
    if report.content_hash != attrs.get("content_hash"):
        report.problems.append(Problem("zarr.json", f"content hash recomputed from the data is {report.content_hash}; "
                                       f"the store records {attrs.get('content_hash')}"))
