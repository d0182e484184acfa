"""The facies dataset store: one Zarr v3 group per dataset, the only copy of the patches.

Layout (all categorical columns are integer codes; their names live in the attributes because
variable-length strings fall outside the Zarr v3 spec)::

    <store>/
      zarr.json                       attrs: see ``REQUIRED_ATTRS``
      patches                         (N, 11, 33, 33) float32, raw (unnormalised) features
      samples/{sample_id,fold,glacier,region,sensor,scene,date,row,col,x,y}
      labels/raw                      int8 class codes
      labels/true                     int8, synthetic stores only (noise-free class)
      labels/<variant>                int8, cleaned variants; PRUNED (-1) marks pruned samples
      scenes/<scene_id>/{features,outline,dem,true_facies}   per-scene rasters
      facies-inventory-<digest>.json  every node's metadata digest, every chunk file's size and crc

Rows are sorted by fold, then glacier, then scene, so every fold is a contiguous row range.
Writing goes through :class:`StoreBuilder`, which builds into a temporary sibling and renames it
into place only when complete: an interrupted build never leaves a store that opens as valid.

Schema version 2 layout: ``patches`` is sharded, ``PATCH_SHARD`` patches per shard file and one
patch per inner chunk, so a random row costs one inner-chunk decode; every chunk, inner chunk and
shard index ends with a crc32c checksum (Zarr v3 ``crc32c`` codec) and every chunk of the grid is
written, fill value or not.  The inventory (:mod:`facies_bench.data.integrity`) is checked on every
open, so a missing, truncated or replaced chunk file, or an edited metadata file, is refused
instead of reading as the fill value.  Arrays are read through TensorStore (local files, and
``s3://``, ``gs://`` and ``http(s)://`` URLs with its own drivers) and otherwise through
zarr-python and fsspec; both verify the checksums.  Writes always go through zarr-python.
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import zarr
from zarr.core import sync as _zarr_sync_module

from facies_bench import schema
from facies_bench.atomic import replace_dir
from facies_bench.data import integrity
from facies_bench.errors import (
    DatasetNotFoundError,
    FaciesBenchError,
    StoreDamagedError,
    StoreFormatError,
    UnknownNameError,
)

if TYPE_CHECKING:
    from zarr.core.array_spec import ArrayConfigParams

log = logging.getLogger(__name__)

#: How a store is opened: read-only, or read-write to add label variants.
StoreMode = Literal["r", "r+"]

FORMAT_NAME = "facies-bench-store"
#: Attributes every valid store carries.
REQUIRED_ATTRS = (
    "format", "schema_version", "dataset_name", "dataset_version", "content_hash", "class_names",
    "feature_names", "feature_min", "feature_max", "glacier_names", "region_names", "sensor_names",
    "scene_ids", "n_samples", "is_synthetic", "provenance", "label_variants", "complete", integrity.INTEGRITY_ATTR,
)
#: Coded sample columns and the store attribute that names their codes (``FaciesStore.named_column``).
NAMED_COLUMNS = {"region": "region_names", "sensor": "sensor_names", "glacier": "glacier_names", "scene": "scene_ids"}
SAMPLE_COLUMNS = ("sample_id", "fold", "glacier", "region", "sensor", "scene", "date", "row", "col", "x", "y")
_SAMPLE_DTYPES = {
    "sample_id": "int64", "fold": "int8", "glacier": "int16", "region": "int8", "sensor": "int8",
    "scene": "int32", "date": "int32", "row": "int32", "col": "int32", "x": "float64", "y": "float64",
}
#: Patches per inner chunk of the sharded patch array: one, so a random row decodes one patch.
PATCH_CHUNK = 1
#: Patches per shard file (the unit of sequential reads, of the chunk-windowed torch loader and of
#: the inventory); chosen by ``benchmarks/test_store_throughput.py``.
PATCH_SHARD = 256
#: Patch shards TensorStore encodes at once while a store is built (bounds the builder's memory).
_SHARDS_IN_FLIGHT = 2
#: Rows per chunk of the one-dimensional sample and label arrays.
COLUMN_CHUNK = 1 << 20
_EPOCH = _dt.date(1970, 1, 1)
#: Above this many runs of consecutive rows, ``read_patches`` uses one orthogonal selection.
_MAX_SLICE_RUNS = 64


def date_to_days(date: _dt.date | str) -> int:
    """Days since the store's epoch of a date or ISO date string."""
    if isinstance(date, str):
        date = _dt.date.fromisoformat(date[:10])
    return (date - _EPOCH).days


def days_to_date(days: int) -> _dt.date:
    """The date ``days`` days after the store's epoch."""
    return _EPOCH + _dt.timedelta(days=int(days))


def _is_url(path: str | os.PathLike) -> bool:
    return "://" in str(path)


def _compressors():
    """Compression then checksum: every (inner) chunk ends with its crc32c."""
    return [zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle"), zarr.codecs.Crc32cCodec()]


def _patch_compressors():
    """The patches' inner chunks: blosc lz4hc level 3 with byte shuffle, then crc32c.

    Chosen by ``benchmarks/test_store_throughput.py`` on simulator patches: as small as the
    schema-1 layout (zstd, bitshuffle, 64-patch chunks; 258 MB for both on 8,192 patches), and
    decoded about 3x faster one patch at a time than zstd with the same shards (whose per-chunk
    set-up dominates a 48 kB chunk).
    """
    return [zarr.codecs.BloscCodec(cname="lz4hc", clevel=3, shuffle="shuffle"), zarr.codecs.Crc32cCodec()]


#: Every chunk of the grid is written, even one equal to the fill value, so that a missing chunk
#: file always means damage.
_ARRAY_CONFIG: ArrayConfigParams = {"write_empty_chunks": True}


def zarr_array(group: zarr.Group, name: str) -> zarr.Array:
    """The array at ``name`` in ``group``; a subgroup there means the store is malformed."""
    node = group[name]
    if not isinstance(node, zarr.Array):
        raise StoreFormatError(f"{group.store_path}/{name} is a Zarr group where a facies store holds an array.")
    return node


def zarr_group(group: zarr.Group, name: str) -> zarr.Group:
    """The subgroup at ``name`` in ``group``; an array there means the store is malformed."""
    node = group[name]
    if not isinstance(node, zarr.Group):
        raise StoreFormatError(f"{group.store_path}/{name} is a Zarr array where a facies store holds a group.")
    return node


def read_array(arr: zarr.Array, sel: Any = Ellipsis) -> np.ndarray:
    """``arr[sel]`` through zarr-python, as a numpy array (zarr types it as array-like or scalar)."""
    return np.asarray(arr[sel])


def _create_array(group: zarr.Group, name: str, data: np.ndarray, *, chunks=None) -> zarr.Array:
    """A checksummed array holding ``data`` (one code path for every array but the patches)."""
    data = np.asarray(data)
    if chunks is None:
        chunks = (max(1, min(len(data), COLUMN_CHUNK)),)
    arr = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks, compressors=_compressors(),
                             config=_ARRAY_CONFIG, overwrite=True)
    arr[...] = data
    return arr


def upgrade_command(path: str) -> str:
    """The command that upgrades the store at ``path``."""
    return f"facies-bench data upgrade {path} -o NEW"


def verify_command(path: str) -> str:
    """The command that verifies the store at ``path``."""
    return f"facies-bench data verify {path}"


def damaged_message(path: str, problems: list, *, full: bool = False) -> str:
    """The one-line refusal for a damaged store: the first problems and the verify command."""
    shown = "; ".join(str(p) for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return (f"Store {path!r} is damaged: {shown}{more}. Run `{verify_command(path)}{' --full' if full else ''}` "
            "to list every problem, then restore the store from a good copy or build it again.")


@dataclass
class SceneInfo:
    """Metadata of one scene (one optical acquisition over one glacier)."""

    scene_id: str
    glacier: str
    sensor: str
    date: str  #: ISO date
    crs: str  #: e.g. "EPSG:32632" or a WKT string
    transform: tuple[float, float, float, float, float, float]  #: affine (a, b, c, d, e, f)
    shape: tuple[int, int]
    sun_azimuth: float | None = None
    sun_elevation: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> SceneInfo:
        """Rebuild a scene's info from its stored attributes (unknown keys are ignored)."""
        known = {k: attrs[k] for k in cls.__dataclass_fields__ if k in attrs}
        known["transform"] = tuple(known["transform"])
        known["shape"] = tuple(known["shape"])
        return cls(**known)


@dataclass
class Scene:
    """Rasters of one scene, read from a store."""

    info: SceneInfo
    features: np.ndarray  #: (11, H, W) float32, raw features
    outline: np.ndarray  #: (H, W) bool glacier mask
    dem: np.ndarray | None  #: (H, W) float32 metres
    true_facies: np.ndarray | None  #: (H, W) int8, synthetic stores only


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _read_rows(arr: zarr.Array, rows: np.ndarray) -> np.ndarray:
    """Rows (sorted, unique) of a patch array.

    Runs of consecutive rows (whole chunks, fold ranges) are read as slices, all at once on
    zarr's event loop so that their chunks are fetched and decoded concurrently (three times
    faster than one slice after another for a chunk-shuffled batch); scattered rows go through one
    orthogonal selection that decodes each chunk once.
    """
    runs = np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1)
    if len(runs) > _MAX_SLICE_RUNS:
        return np.asarray(arr.get_orthogonal_selection((rows,)))
    if len(runs) == 1:
        return read_array(arr, slice(int(rows[0]), int(rows[-1]) + 1))

    async def read_all() -> list:
        return await asyncio.gather(*(arr.async_array.getitem(slice(int(r[0]), int(r[-1]) + 1)) for r in runs))

    return np.concatenate(_zarr_sync_module.sync(read_all()))


#: The process that first used TensorStore.  TensorStore's threads do not survive ``fork``: a forked
#: child (a ``fork`` DataLoader worker) whose parent used it reads through zarr-python instead.
_TENSORSTORE_PID: int | None = None


def tensorstore_started() -> bool:
    """Whether TensorStore's threads were started in this process (or the one it was forked from).

    A child forked now could not read through TensorStore.
    """
    return _TENSORSTORE_PID is not None


_TENSORSTORE_CONTEXT: Any = None


def tensorstore_kvstore(path: str, storage_options: dict | None = None) -> dict | None:
    """TensorStore's key-value store spec for a store path or URL, or None where only fsspec can read it.

    Local paths use the ``file`` driver; ``s3://`` the ``s3`` driver (``endpoint_url``, ``anon``,
    credentials from the environment); ``gs://`` the ``gcs`` driver; ``http(s)://`` the ``http``
    driver.  Options TensorStore cannot take (explicit keys that differ from the environment's,
    any other fsspec option) leave the store on the fsspec path.
    """
    if not _is_url(path):
        return {"driver": "file", "path": str(Path(path).resolve()) + "/"}
    from urllib.parse import urlparse

    opts = dict(storage_options or {})
    url = urlparse(str(path))
    prefix = url.path.strip("/") + "/" if url.path.strip("/") else ""
    if url.scheme == "s3":
        client = dict(opts.pop("client_kwargs", {}) or {})
        endpoint = opts.pop("endpoint_url", None) or client.pop("endpoint_url", None)
        region = client.pop("region_name", None) or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        kv: dict[str, Any] = {"driver": "s3", "bucket": url.netloc, "path": prefix}
        if endpoint:
            kv["endpoint"] = endpoint
        if region:
            kv["aws_region"] = region
        if opts.pop("anon", False):
            kv["aws_credentials"] = {"type": "anonymous"}
        key, secret = opts.pop("key", None), opts.pop("secret", None)
        if key is not None or secret is not None:
            if (key, secret) != (os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")):
                return None
            kv["aws_credentials"] = {"type": "environment"}
        return kv if not opts and not client else None
    if url.scheme in ("gs", "gcs") and not opts:
        return {"driver": "gcs", "bucket": url.netloc, "path": prefix}
    if url.scheme in ("http", "https") and not opts:
        return {"driver": "http", "base_url": f"{url.scheme}://{url.netloc}", "path": "/" + prefix}
    return None


def _open_tensorstore(kvstore: dict | None, name: str):
    """A read-only TensorStore handle of array ``name`` of a store, or None (forked child, no driver)."""
    global _TENSORSTORE_PID
    if kvstore is None or (_TENSORSTORE_PID is not None and _TENSORSTORE_PID != os.getpid()):
        return None
    try:
        import tensorstore as ts
    except ImportError:  # pragma: no cover - tensorstore is a dependency
        return None
    global _TENSORSTORE_CONTEXT
    if _TENSORSTORE_PID is None:
        _TENSORSTORE_PID = os.getpid()
        # one context per process, shared by every array, without a chunk cache: caching every
        # decoded 48 kB inner chunk halved sequential reads in benchmarks/test_loader_throughput.py
        _TENSORSTORE_CONTEXT = ts.Context()
    kv = {**kvstore, "path": kvstore.get("path", "") + name + "/"}
    # "open": what was cached before this handle was opened is revalidated, so a store rebuilt or
    # a label variant rewritten at the same path is never served from the cache
    spec = {"driver": "zarr3", "kvstore": kv, "recheck_cached_data": "open", "recheck_cached_metadata": "open"}
    try:
        return ts.open(spec, read=True, open=True, context=_TENSORSTORE_CONTEXT).result()
    except Exception as exc:  # noqa: BLE001 - reading falls back to zarr-python, which reports damage by file
        log.warning("TensorStore cannot open %s (%s); reading it through zarr-python", name, exc)
        return None


def _block_rows(arr: zarr.Array) -> int:
    """Rows per chunk file (shard, or chunk of an unsharded array) along axis 0."""
    return int((arr.shards or arr.chunks)[0])


def _chunk_key(meta_sep: str, index: tuple[int, ...]) -> str:
    return "c" + meta_sep + meta_sep.join(str(i) for i in index)


def _drain_zarr_tasks() -> None:
    """Let zarr-python's event loop finish the reads a failed decode left behind.

    A shard that fails to decode aborts zarr's gather of its inner chunks, but the sibling tasks
    stay queued on zarr's loop; if the process then exits on the error, asyncio prints "Task was
    destroyed but it is pending" for each of them after the clean message.
    """
    async def drain() -> None:
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await asyncio.gather(*pending, return_exceptions=True)

    try:
        _zarr_sync_module.sync(drain(), timeout=30)
    except Exception:  # noqa: BLE001 - tidying up after an error already being reported
        pass


def _stop_zarr_loop(timeout: float = 10.0) -> None:
    """Stop zarr-python's I/O thread at exit, waiting up to ``timeout`` seconds for it.

    zarr 3.1's own exit hook waits only 0.2 s; on a loaded machine the thread is often not
    scheduled in time, and the hook then closes a running loop, printing "Thread did not finish
    cleanly" and a RuntimeError traceback after a command's output.  Registered after zarr's
    import, this hook runs before zarr's (exit hooks run last-in, first-out), which then finds the
    loop stopped.
    """
    loop, thread = _zarr_sync_module.loop[0], _zarr_sync_module.iothread[0]
    if loop is None or thread is None or not thread.is_alive() or loop.is_closed():
        return
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout)


atexit.register(_stop_zarr_loop)


def find_bad_chunks(arr: zarr.Array, name: str, *, first_rows: Iterable[int] | None = None,
                    stop_at_first: bool = False, on_block=None) -> list[integrity.Problem]:
    """Chunk files of ``arr`` that fail to decode (checksum, codec), read one file at a time.

    Args:
        arr: the array (zarr-python).
        name: its path in the store, for the messages.
        first_rows: only the chunk files holding these rows (axis 0); None for all.
        stop_at_first: return after the first bad file.
        on_block: called as ``on_block(grid_index, values)`` for every good file, in grid order.
    """
    import itertools
    import math

    block = tuple(arr.shards or arr.chunks)
    grid = [max(1, math.ceil(s / b)) for s, b in zip(arr.shape, block, strict=True)] if arr.shape else []
    sep = "/"
    axes: list[Sequence[int]] = [range(n) for n in grid]
    if first_rows is not None and grid:
        axes[0] = sorted({int(r) // block[0] for r in first_rows})
    problems = []
    for index in itertools.product(*axes):
        sel = tuple(slice(i * b, min((i + 1) * b, s)) for i, b, s in zip(index, block, arr.shape, strict=True))
        try:
            values = arr[sel]
        except Exception as exc:  # noqa: BLE001 - every decode failure names the file
            _drain_zarr_tasks()
            key = f"{name}/{_chunk_key(sep, index)}"
            problems.append(integrity.Problem(key, f"chunk file of array {name} cannot be decoded: {exc}"))
            if stop_at_first:
                break
            continue
        if on_block is not None:
            on_block(index, values)
    return problems


class FaciesStore:
    """A facies dataset store opened for reading (and, with ``mode="r+"``, adding label variants).

    Args:
        path: local path or any fsspec URL (``s3://bucket/store.zarr``...).
        mode: ``"r"`` (default) or ``"r+"`` to add label variants.
        storage_options: passed to fsspec for URLs.
    """

    def __init__(self, path: str | os.PathLike, *, mode: StoreMode = "r", storage_options: dict | None = None):
        self.path = str(path)
        self.mode = mode
        self.storage_options = storage_options
        self._ts_handles: dict[str, Any] = {}
        self._ts_pid = os.getpid()
        if not _is_url(path) and not Path(path).exists():
            msg = f"No facies store at {self.path!r}: the path does not exist. Build one with `facies-bench data synth -o {self.path}` or pass an existing store."
            raise DatasetNotFoundError(msg)
        try:
            self.group = zarr.open_group(self.path, mode=mode, storage_options=storage_options if _is_url(path) else None)
        except FileNotFoundError as exc:
            if _is_url(path):
                raise DatasetNotFoundError(f"No facies store at {self.path!r}: {exc}") from exc
            msg = f"{self.path!r} is not a facies store: it holds no Zarr v3 group (zarr.json missing)."
            raise StoreFormatError(msg) from exc
        except Exception as exc:  # zarr raises several types for non-zarr directories
            msg = f"{self.path!r} is not a facies store (no readable Zarr v3 group: {exc})."
            raise StoreFormatError(msg) from exc
        self.attrs: dict[str, Any] = dict(self.group.attrs)
        self._validate()
        self._scene_index = {s: i for i, s in enumerate(self.attrs["scene_ids"])}

    # ---- validation ----------------------------------------------------------------------
    def _validate(self) -> None:
        if self.attrs.get("format") != FORMAT_NAME:
            msg = f"{self.path!r} is not a facies store: attribute 'format' is {self.attrs.get('format')!r}, expected {FORMAT_NAME!r}."
            raise StoreFormatError(msg)
        if not self.attrs.get("complete", False):
            msg = f"{self.path!r} is an incomplete facies store (its build was interrupted); delete it and build it again."
            raise StoreFormatError(msg)
        version = self.attrs.get("schema_version")
        if version != schema.SCHEMA_VERSION:
            if isinstance(version, int) and version < schema.SCHEMA_VERSION:
                how = (f"a converted release is upgraded with `{upgrade_command(self.path)}`; a synthetic store is rebuilt "
                       "with `facies-bench data synth -o NEW` (the simulator changed)" if not self.attrs.get("is_synthetic")
                       else "a synthetic store is rebuilt with `facies-bench data synth -o NEW` (the simulator changed; "
                       f"`{upgrade_command(self.path)}` upgrades converted releases only)")
                msg = (f"{self.path!r} has store schema version {version!r}; this facies-bench reads version "
                       f"{schema.SCHEMA_VERSION}: {how}.")
            else:
                msg = (f"{self.path!r} has store schema version {version!r}; this facies-bench reads version "
                       f"{schema.SCHEMA_VERSION}. Install a facies-bench that reads it, or rebuild the store.")
            raise StoreFormatError(msg)
        missing = [a for a in REQUIRED_ATTRS if a not in self.attrs]
        arrays = ["patches", "labels/raw"] + [f"samples/{c}" for c in SAMPLE_COLUMNS]
        for name in arrays:
            try:
                self.group[name]
            except KeyError:
                missing.append(name)
        if missing:
            msg = f"{self.path!r} is not a complete facies store: missing {', '.join(missing)}. Run `{verify_command(self.path)}` to list every problem."
            raise StoreDamagedError(msg)
        problems = self.check(level="open")
        if problems:
            raise StoreDamagedError(damaged_message(self.path, problems))

    def required_arrays(self) -> tuple[str, ...]:
        """Arrays every reader relies on: patches, sample columns, raw labels and every label variant."""
        variants = tuple(f"labels/{v}" for v in self.attrs.get("label_variants", {}))
        true = ("labels/true",) if self.attrs.get("is_synthetic") and "labels/true" in self.group else ()
        return ("patches", "labels/raw", *true, *variants, *(f"samples/{c}" for c in SAMPLE_COLUMNS))

    def check(self, *, level: str = "open") -> list[integrity.Problem]:
        """Integrity problems found against the store's inventory (see :mod:`facies_bench.data.integrity`)."""
        files = integrity.StoreFiles(self.path, self.storage_options)
        return integrity.check_store(files, self.attrs, level=level, required=self.required_arrays(),
                                     skip=self._left_out())

    def _left_out(self) -> tuple[str, ...]:
        """Nodes a patches-only cached copy of a URL store leaves out on purpose (its scenes)."""
        if _is_url(self.path):
            return ()
        marker = Path(self.path) / integrity.CACHE_MARKER
        if not marker.is_file():
            return ()
        try:
            include_scenes = bool(json.loads(marker.read_text()).get("include_scenes", True))
        except ValueError:
            return ()
        return () if include_scenes else ("scenes",)

    def _damaged(self, name: str, exc: BaseException, rows=None) -> BaseException:
        """The error to raise after a failed read of array ``name``: the bad chunk file, named."""
        try:
            arr = zarr_array(self.group, name)
            bad = find_bad_chunks(arr, name, first_rows=rows, stop_at_first=True)
        except Exception:  # noqa: BLE001 - the metadata itself is unreadable: name it
            bad = [integrity.Problem(f"{name}/zarr.json", f"array cannot be opened ({exc})")]
        if not bad:
            return exc
        return StoreDamagedError(damaged_message(self.path, bad, full=True))

    def _read(self, name: str, sel: Any = slice(None)) -> np.ndarray:
        """``array[sel]`` (TensorStore for local stores, else zarr-python); a damaged chunk is named."""
        try:
            # the small per-sample arrays go through zarr-python: opening a dataset then starts no
            # TensorStore threads, so fork DataLoader workers can still read patches through it
            handle = None if name.startswith(("samples/", "labels/")) else self._tensorstore(name)
            if handle is not None:
                return handle[sel].read().result()
            return read_array(zarr_array(self.group, name), sel)
        except (ValueError, RuntimeError, OSError) as exc:
            error = self._damaged(name, exc)
            if error is exc:
                raise
            raise error from exc

    # ---- attributes ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Dataset name."""
        return self.attrs["dataset_name"]

    @property
    def version(self) -> str:
        """Dataset version."""
        return self.attrs["dataset_version"]

    @property
    def content_hash(self) -> str:
        """Hash of the store's content, recorded at build time."""
        return self.attrs["content_hash"]

    @property
    def is_synthetic(self) -> bool:
        """Whether the store was generated by the simulator."""
        return bool(self.attrs["is_synthetic"])

    @property
    def n_samples(self) -> int:
        """Number of labelled points (patches)."""
        return int(self.attrs["n_samples"])

    def __len__(self) -> int:
        return self.n_samples

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The stored features, in channel order."""
        return tuple(self.attrs["feature_names"])

    @property
    def feature_min(self) -> np.ndarray:
        """(C,) float32 per-feature minimum over the store."""
        return np.asarray(self.attrs["feature_min"], dtype=np.float32)

    @property
    def feature_max(self) -> np.ndarray:
        """(C,) float32 per-feature maximum over the store."""
        return np.asarray(self.attrs["feature_max"], dtype=np.float32)

    @property
    def scene_ids(self) -> tuple[str, ...]:
        """Ids of the scenes, in store order."""
        return tuple(self.attrs["scene_ids"])

    def describe(self) -> dict[str, Any]:
        """Identity of the store, as recorded in reports and results."""
        return {"name": self.name, "version": self.version, "content_hash": self.content_hash,
                "is_synthetic": self.is_synthetic, "n_samples": self.n_samples, "path": self.path}

    # ---- label variants ------------------------------------------------------------------
    @property
    def variants(self) -> tuple[str, ...]:
        """Available label variants: ``raw`` and every cleaned variant (``cleaned`` aliases the default)."""
        return ("raw", *self.attrs["label_variants"].keys())

    @property
    def default_cleaned(self) -> str | None:
        """The variant ``cleaned`` resolves to, or None."""
        return self.attrs.get("default_cleaned")

    def resolve_variant(self, variant: str) -> str:
        """The label variant named ``variant`` (``cleaned`` means the default cleaned one); unknown names raise."""
        if variant == "cleaned":
            if not self.default_cleaned:
                msg = f"Store {self.path!r} has no default 'cleaned' variant. Available: {', '.join(self.variants)}. Run `facies-bench clean` first or name a variant."
                raise UnknownNameError(msg)
            return self.default_cleaned
        if variant not in self.variants:
            msg = f"Unknown label variant {variant!r} in store {self.path!r}. Available: {', '.join(self.variants)}" + (", cleaned" if self.default_cleaned else "") + "."
            raise UnknownNameError(msg)
        return variant

    def variant_info(self, variant: str) -> dict[str, Any]:
        """Name and provenance of a label variant."""
        name = self.resolve_variant(variant)
        return {"name": "raw"} if name == "raw" else {"name": name, **self.attrs["label_variants"][name]}

    def variant_fingerprint(self, variant: str) -> str:
        """A name that changes whenever the variant's labels change (``raw`` or ``name@hash``).

        Work units and results record it, so a variant rewritten under the same name is never
        mistaken for the old one.
        """
        name = self.resolve_variant(variant)
        if name == "raw":
            return "raw"
        return f"{name}@{self.attrs['label_variants'][name].get('labels_hash', 'unhashed')}"

    def labels(self, variant: str = "raw") -> np.ndarray:
        """(N,) int8 class codes of a label variant; ``schema.PRUNED`` marks pruned samples."""
        return np.asarray(self._read(f"labels/{self.resolve_variant(variant)}"), dtype=np.int8)

    def true_labels(self) -> np.ndarray | None:
        """Noise-free class codes (synthetic stores only), else None."""
        if "labels/true" not in self.group:
            return None
        return np.asarray(self._read("labels/true"), dtype=np.int8)

    # ---- samples -------------------------------------------------------------------------
    def column(self, name: str) -> np.ndarray:
        """One per-sample column (see ``SAMPLE_COLUMNS``), in row order."""
        if name not in SAMPLE_COLUMNS:
            msg = f"Unknown sample column {name!r}. Valid: {', '.join(SAMPLE_COLUMNS)}."
            raise UnknownNameError(msg)
        return self._read(f"samples/{name}")

    def named_column(self, name: str, codes: np.ndarray | None = None) -> np.ndarray:
        """A coded column (glacier, region, sensor, scene) as names, object array in row order.

        ``codes`` are the column's codes if already read (default: read them).
        """
        if name not in NAMED_COLUMNS:
            raise UnknownNameError(f"Column {name!r} has no names; named columns: {', '.join(NAMED_COLUMNS)}.")
        return np.asarray(self.attrs[NAMED_COLUMNS[name]], dtype=object)[self.column(name) if codes is None else codes]

    def metadata(self, variant: str = "raw"):
        """Per-sample metadata as a pandas DataFrame (one row per sample, store order).

        Columns: sample_id, label (class code, -1 if pruned), label_true (synthetic only), fold,
        glacier, region, sensor, scene_id (names as strings), date (ISO), row, col, x, y.
        """
        import pandas as pd

        cols = {c: self.column(c) for c in SAMPLE_COLUMNS}
        frame = pd.DataFrame({"sample_id": cols["sample_id"], "label": self.labels(variant)})
        true = self.true_labels()
        if true is not None:
            frame["label_true"] = true
        frame["fold"] = cols["fold"].astype(np.int64)
        for col in ("glacier", "region", "sensor"):
            frame[col] = self.named_column(col, cols[col])
        frame["scene_id"] = self.named_column("scene", cols["scene"])
        frame["date"] = (np.datetime64("1970-01-01") + cols["date"].astype("timedelta64[D]")).astype(str)
        for c in ("row", "col", "x", "y"):
            frame[c] = cols[c]
        return frame

    def fold_rows(self, fold: int) -> slice:
        """The contiguous row range of a fold."""
        ranges = self.attrs.get("fold_ranges")
        if ranges is None or str(fold) not in ranges:
            msg = f"Fold {fold} not present in store {self.path!r}. Present: {sorted(int(k) for k in (ranges or {}))}."
            raise UnknownNameError(msg)
        start, stop = ranges[str(fold)]
        return slice(start, stop)

    # ---- patches -------------------------------------------------------------------------
    @property
    def patches(self) -> zarr.Array:
        """The patch array through zarr-python (the TensorStore path is :meth:`read_patches`)."""
        return zarr_array(self.group, "patches")

    @property
    def patch_block(self) -> int:
        """Patches per chunk file (shard): the unit of sequential and chunk-windowed reads."""
        return _block_rows(self.patches)

    def _tensorstore(self, name: str = "patches"):
        """TensorStore handle of an array (opened once per process), or None for the zarr-python path."""
        if self._ts_pid != os.getpid():
            self._ts_handles, self._ts_pid = {}, os.getpid()
        if name not in self._ts_handles:
            self._ts_handles[name] = _open_tensorstore(tensorstore_kvstore(self.path, self.storage_options), name)
        return self._ts_handles[name]

    def _read_patch_rows(self, sel: slice | np.ndarray) -> np.ndarray:
        """All features of a row slice or of sorted unique rows, TensorStore first."""
        try:
            handle = self._tensorstore()
            if handle is not None:
                if isinstance(sel, slice):
                    return handle[sel.start:sel.stop].read().result()
                breaks = np.flatnonzero(np.diff(sel) != 1) + 1
                if len(breaks) == 0:  # one run of consecutive rows: a slice read
                    return handle[int(sel[0]):int(sel[-1]) + 1].read().result()
                if len(breaks) < _MAX_SLICE_RUNS:  # a few runs (shard windows): concurrent slice reads
                    runs = np.split(sel, breaks)
                    futures = [handle[int(r[0]):int(r[-1]) + 1].read() for r in runs]
                    return np.concatenate([f.result() for f in futures])
                return handle[sel].read().result()
            arr = self.patches
            return read_array(arr, sel) if isinstance(sel, slice) else _read_rows(arr, sel)
        except (ValueError, RuntimeError, OSError) as exc:
            rows = range(sel.start, sel.stop) if isinstance(sel, slice) else sel
            error = self._damaged("patches", exc, rows=rows)
            if error is exc:
                raise
            raise error from exc

    def feature_indices(self, features=None) -> list[int]:
        """Channel indices of ``features`` (a feature set id, names, or None for all)."""
        names = schema.resolve_features(features)
        missing = [f for f in names if f not in self.feature_names]
        if missing:
            msg = f"Store {self.path!r} lacks feature(s) {', '.join(missing)}; it has {', '.join(self.feature_names)}."
            raise UnknownNameError(msg)
        return [self.feature_names.index(f) for f in names]

    def read_patches(self, rows: slice | np.ndarray | Iterable[int], features=None) -> np.ndarray:
        """Patches of the given rows as (n, C, 33, 33) float32 (raw values).

        A slice reads contiguous chunks; an index array reads each needed chunk once and
        returns the rows in the order given.
        """
        fidx = self.feature_indices(features)
        empty = np.empty((0, len(fidx), schema.PATCH_SIZE, schema.PATCH_SIZE), np.float32)
        if isinstance(rows, slice):
            start, stop, step = rows.indices(self.n_samples)
            if step == 1:
                out = self._read_patch_rows(slice(start, stop)) if stop > start else empty
            else:
                out = self._read_patch_index(np.arange(start, stop, step), empty)
        else:
            out = self._read_patch_index(np.asarray(rows, dtype=np.int64).reshape(-1), empty)
        if len(fidx) != out.shape[1]:
            out = out[:, fidx]
        return np.ascontiguousarray(out, dtype=np.float32)

    def _read_patch_index(self, rows: np.ndarray, empty: np.ndarray) -> np.ndarray:
        """All features of the rows of an index array, in its order (``empty`` when there are none)."""
        if rows.size == 0:
            return empty
        if rows.min() < 0:  # numpy-style negative rows count from the end
            rows = np.where(rows < 0, rows + self.n_samples, rows)
        if rows.min() < 0 or rows.max() >= self.n_samples:
            msg = f"Patch rows must lie in -{self.n_samples}..{self.n_samples - 1} for store {self.path!r}; got {rows.min()}..{rows.max()}."
            raise IndexError(msg)
        if rows.size == 1 or bool(np.all(np.diff(rows) > 0)):  # sorted and unique: no reordering copies
            return self._read_patch_rows(rows)
        uniq, inverse = np.unique(rows, return_inverse=True)
        return self._read_patch_rows(uniq)[inverse]

    # ---- scenes --------------------------------------------------------------------------
    def scene_info(self, scene_id: str) -> SceneInfo:
        """The :class:`SceneInfo` of a scene; unknown ids raise :class:`UnknownNameError`."""
        if scene_id not in self._scene_index:
            msg = f"Unknown scene {scene_id!r} in store {self.path!r}. Scenes: {', '.join(self.scene_ids[:10])}{' ...' if len(self.scene_ids) > 10 else ''}."
            raise UnknownNameError(msg)
        try:
            group = self.group[f"scenes/{scene_id}"]
        except KeyError:
            msg = f"Scene {scene_id!r} of store {self.path!r} has no rasters (a converted release holds patches only)."
            raise DatasetNotFoundError(msg) from None
        return SceneInfo.from_attrs(dict(group.attrs))

    def scene_array(self, scene_id: str, name: str) -> np.ndarray | None:
        """One raster of a scene (``features``, ``outline``, ``dem``, ``true_facies``), or None if absent."""
        if f"scenes/{scene_id}/{name}" not in self.group:
            return None
        return self._read(f"scenes/{scene_id}/{name}")

    def scene(self, scene_id: str) -> Scene:
        """A scene's rasters: features, outline, DEM and, for synthetic stores, the true facies."""
        info = self.scene_info(scene_id)
        g = self.group[f"scenes/{scene_id}"]
        def opt(name):
            return self._read(f"scenes/{scene_id}/{name}") if name in g else None
        return Scene(info=info, features=self._read(f"scenes/{scene_id}/features").astype(np.float32),
                     outline=self._read(f"scenes/{scene_id}/outline").astype(bool), dem=opt("dem"),
                     true_facies=opt("true_facies"))

    # ---- writing label variants ----------------------------------------------------------
    def write_label_variant(self, name: str, labels: np.ndarray, provenance: dict[str, Any], *,
                            overwrite: bool = False, make_default: bool = False) -> None:
        """Add a cleaned label variant (``schema.PRUNED`` marks pruned samples).

        The raw labels and other variants are never touched.  The variant becomes visible only
        when its array is completely written (the attribute listing is the commit point).
        """
        if self.mode == "r":
            msg = f"Store {self.path!r} is opened read-only; open it with mode='r+' to add a label variant."
            raise FaciesBenchError(msg)
        if not _is_url(self.path) and not os.access(self.path, os.W_OK):
            msg = f"Store {self.path!r} is not writable (read-only file system or permissions); the store was left unchanged."
            raise FaciesBenchError(msg)
        reserved = {"raw", "true", "cleaned"}
        if name in reserved or not name.replace("_", "").replace("-", "").isalnum():
            msg = f"Invalid label variant name {name!r}: use letters, digits, '-' or '_', and not one of {sorted(reserved)}."
            raise UnknownNameError(msg)
        existing = dict(self.attrs["label_variants"])
        if name in existing and not overwrite:
            msg = f"Label variant {name!r} already exists in {self.path!r}; pass overwrite=True (--overwrite) to replace it."
            raise FaciesBenchError(msg)
        labels = np.asarray(labels, dtype=np.int8)
        if labels.shape != (self.n_samples,):
            msg = f"Label variant {name!r} has shape {labels.shape}; the store has {self.n_samples} samples."
            raise ValueError(msg)
        if ((labels < schema.PRUNED) | (labels >= schema.N_CLASSES)).any():
            raise ValueError(f"Label variant {name!r} has codes outside -1..{schema.N_CLASSES - 1}.")
        # Hide the variant while its array is rewritten, then publish it.
        if name in existing:
            existing.pop(name)
            self._set_attrs(label_variants=existing)
        tmp = f"labels/.tmp-{name}-{uuid.uuid4().hex[:8]}"
        _create_array(self.group, tmp, labels)
        if f"labels/{name}" in self.group:
            del self.group[f"labels/{name}"]
        self._move(tmp, f"labels/{name}", labels)
        self._ts_handles.pop(f"labels/{name}", None)
        existing[name] = {**provenance, "labels_hash": labels_hash(labels)}
        updates: dict[str, Any] = {"label_variants": existing}
        if make_default or not self.attrs.get("default_cleaned"):
            updates["default_cleaned"] = name
        self._set_attrs(inventory_prefixes=(f"labels/{name}",), **updates)

    def set_default_cleaned(self, name: str) -> None:
        """Make ``name`` the variant that ``cleaned`` resolves to."""
        name = self.resolve_variant(name)
        if name == "raw":
            raise UnknownNameError("The raw labels cannot be the default cleaned variant.")
        self._set_attrs(default_cleaned=name)

    def _move(self, src: str, dst: str, data: np.ndarray) -> None:
        if not _is_url(self.path):
            os.replace(Path(self.path) / src, Path(self.path) / dst)
            return
        _create_array(self.group, dst, data, chunks=zarr_array(self.group, src).chunks)
        del self.group[src]

    def _set_attrs(self, *, inventory_prefixes: tuple[str, ...] = (), **updates: Any) -> None:
        """Update the root attributes (the commit point) and their integrity record.

        With ``inventory_prefixes``, those nodes are inventoried again first, under a new
        content-addressed inventory file; the old file is removed once the attributes name the new one.
        """
        files = integrity.StoreFiles(self.path, self.storage_options)
        record = dict(self.attrs.get(integrity.INTEGRITY_ATTR) or {})
        old_inventory = record.get("inventory")
        if inventory_prefixes:
            base, problems = integrity.load_inventory(files, self.attrs)
            if base is None:
                raise StoreDamagedError(damaged_message(self.path, problems))
            record.update(integrity.write_inventory(files, integrity.build_inventory(files, prefixes=inventory_prefixes, base=base)))
        new_attrs = {**self.attrs, **updates}
        record["attrs_sha256"] = integrity.attrs_digest(new_attrs)
        updates[integrity.INTEGRITY_ATTR] = record
        self.group.attrs.update(updates)
        self.attrs.update(updates)
        if old_inventory and old_inventory != record.get("inventory"):
            files.delete(old_inventory)


def labels_hash(labels: np.ndarray) -> str:
    """The recorded hash of a label variant's codes."""
    return "blake2b:" + hashlib.blake2b(np.asarray(labels, dtype=np.int8).tobytes(), digest_size=16).hexdigest()


def open_store(path: str | os.PathLike, *, mode: StoreMode = "r", storage_options: dict | None = None) -> FaciesStore:
    """Open a facies store; see :class:`FaciesStore`."""
    return FaciesStore(path, mode=mode, storage_options=storage_options)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


class StoreBuilder:
    """Builds a store in a temporary sibling directory and renames it into place on ``finish``.

    Usage::

        builder = StoreBuilder(path, n_samples=N, dataset_name="glacier-facies-synthetic", ...)
        builder.add_scene(info, features, outline, dem=dem, true_facies=truth)   # any number
        builder.write_patches(0, patches_block)                                   # in row order
        builder.set_samples(columns)            # dict of SAMPLE_COLUMNS (glacier etc. as names or codes)
        builder.set_labels(raw, true=true)
        store = builder.finish()

    Rows must already be sorted by fold, glacier and scene.  Patches must be written in order
    (the content hash is computed as they stream in).
    """

    def __init__(self, path: str | os.PathLike, *, n_samples: int, dataset_name: str, dataset_version: str,
                 is_synthetic: bool, provenance: dict[str, Any], overwrite: bool = False,
                 sensor_names: tuple[str, ...] = schema.SENSOR_NAMES + (schema.UNKNOWN_SENSOR,)):
        if _is_url(path):
            raise FaciesBenchError(f"Stores are built on local disk; copy {path!r} to object storage afterwards.")
        self.final_path = Path(path)
        if self.final_path.exists() and not overwrite:
            msg = f"{str(self.final_path)!r} already exists; pass overwrite=True (--overwrite) to replace it."
            raise FaciesBenchError(msg)
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp_path = self.final_path.with_name(f".{self.final_path.name}.tmp-{uuid.uuid4().hex[:8]}")
        self.group = zarr.open_group(str(self.tmp_path), mode="w", zarr_format=3)
        self.n_samples = int(n_samples)
        self.sensor_names = tuple(sensor_names)
        self.base_attrs: dict[str, Any] = {
            "format": FORMAT_NAME, "schema_version": schema.SCHEMA_VERSION, "dataset_name": dataset_name,
            "dataset_version": dataset_version, "is_synthetic": bool(is_synthetic), "provenance": provenance,
            "class_names": list(schema.CLASS_NAMES), "feature_names": list(schema.FEATURE_NAMES),
            "glacier_names": list(schema.GLACIER_NAMES), "region_names": list(schema.REGIONS),
            "sensor_names": list(self.sensor_names), "n_samples": self.n_samples, "label_variants": {},
            "complete": False,
        }
        self.group.attrs.update(self.base_attrs)
        self.patches = create_patch_array(self.group, self.n_samples)
        self._hash = hashlib.blake2b(digest_size=16)
        self._hash_tail: list[bytes] = []  # sample columns and labels, hashed after the patches
        self._written = 0
        self._pending: list[np.ndarray] = []  # rows not yet written: whole shards are written at once
        self._pending_start = 0
        self._ts_writer: list | None = None
        self._fmin = np.full(schema.N_FEATURES, np.inf)
        self._fmax = np.full(schema.N_FEATURES, -np.inf)
        self.scene_ids: list[str] = []
        self._samples_set = False
        self._labels_set = False

    def add_scene(self, info: SceneInfo, features: np.ndarray, outline: np.ndarray, *,
                  dem: np.ndarray | None = None, true_facies: np.ndarray | None = None) -> int:
        """Store one scene's rasters; returns its scene code."""
        if info.scene_id in self.scene_ids:
            raise ValueError(f"Duplicate scene id {info.scene_id!r}.")
        if features.shape[0] != schema.N_FEATURES or features.shape[1:] != tuple(outline.shape):
            raise ValueError(f"Scene {info.scene_id!r}: features {features.shape} and outline {outline.shape} disagree.")
        g = self.group.create_group(f"scenes/{info.scene_id}")
        attrs = asdict(info)
        attrs["shape"] = list(outline.shape)
        g.attrs.update(attrs)
        h, w = outline.shape
        tile = (min(h, 512), min(w, 512))
        _create_array(g, "features", features.astype(np.float32), chunks=(schema.N_FEATURES, *tile))
        _create_array(g, "outline", outline.astype(np.uint8), chunks=tile)
        if dem is not None:
            _create_array(g, "dem", dem.astype(np.float32), chunks=tile)
        if true_facies is not None:
            _create_array(g, "true_facies", true_facies.astype(np.int8), chunks=tile)
        self.scene_ids.append(info.scene_id)
        return len(self.scene_ids) - 1

    def declare_scene(self, scene_id: str) -> int:
        """Register a scene that has samples but no rasters (a converted release has patches only)."""
        if scene_id in self.scene_ids:
            raise ValueError(f"Duplicate scene id {scene_id!r}.")
        self.scene_ids.append(scene_id)
        return len(self.scene_ids) - 1

    def update_provenance(self, **entries: Any) -> None:
        """Add entries to the store's provenance attribute (e.g. facts learnt while converting)."""
        self.base_attrs["provenance"] = {**self.base_attrs["provenance"], **entries}
        self.group.attrs["provenance"] = self.base_attrs["provenance"]

    def write_patches(self, start: int, patches: np.ndarray) -> None:
        """Write rows ``start:start+len(patches)``; rows must be written in order."""
        if start != self._written:
            raise ValueError(f"Patches must be written in row order: expected start {self._written}, got {start}.")
        patches = np.ascontiguousarray(patches, dtype=np.float32)
        if patches.shape[1:] != (schema.N_FEATURES, schema.PATCH_SIZE, schema.PATCH_SIZE):
            raise ValueError(f"Patches have shape {patches.shape}; expected (n, {schema.N_FEATURES}, 33, 33).")
        stop = start + len(patches)
        if stop > self.n_samples:
            raise ValueError(f"Writing rows {start}:{stop} exceeds the store's {self.n_samples} samples.")
        self._pending.append(patches)
        self._flush(final=stop == self.n_samples)
        self._hash.update(patches.tobytes())
        finite = np.where(np.isfinite(patches), patches, np.nan)
        with np.errstate(all="ignore"):
            self._fmin = np.fmin(self._fmin, np.nanmin(finite, axis=(0, 2, 3)))
            self._fmax = np.fmax(self._fmax, np.nanmax(finite, axis=(0, 2, 3)))
        self._written = stop

    def _flush(self, *, final: bool = False) -> None:
        """Write the pending rows in whole shards (all of them when ``final``): no shard is rewritten."""
        pending = sum(len(p) for p in self._pending)
        n = pending if final else pending // PATCH_SHARD * PATCH_SHARD
        if n == 0:
            return
        block = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        start, stop = self._pending_start, self._pending_start + n
        writer = self._patch_writer()
        if writer is not None:  # a few shards in flight at a time: bounded memory, parallel encoding
            futures = []
            for a in range(start, stop, PATCH_SHARD):
                b = min(a + PATCH_SHARD, stop)
                futures.append(writer[a:b].write(block[a - start:b - start]))
                if len(futures) == _SHARDS_IN_FLIGHT:
                    futures.pop(0).result()
            for future in futures:
                future.result()
        else:
            self.patches[start:stop] = block[:n]
        self._pending = [np.array(block[n:])] if n < len(block) else []  # a copy: the caller may reuse its buffer
        self._pending_start += n

    def _patch_writer(self):
        """TensorStore handle writing whole patch shards into the array zarr-python created, or None.

        zarr-python defines every array and writes everything else; TensorStore only encodes the
        patch shards (zarr-python encodes the 256 inner chunks of a shard one by one; TensorStore
        wrote 4,096 simulator patches 2.1-2.4x faster in a one-off comparison on the 2-core
        machine), every inner chunk stored even if equal to the fill value.
        """
        global _TENSORSTORE_PID
        if self._ts_writer is None:
            self._ts_writer = [None]
            kv = tensorstore_kvstore(str(self.tmp_path))
            if _TENSORSTORE_PID in (None, os.getpid()):
                try:
                    import tensorstore as ts

                    _TENSORSTORE_PID = os.getpid()  # its threads now exist: forked children must not use it

                    spec = {"driver": "zarr3", "kvstore": {**kv, "path": kv["path"] + "patches/"},
                            "store_data_equal_to_fill_value": True}
                    self._ts_writer = [ts.open(spec, read=True, write=True, open=True).result()]
                except Exception as exc:  # noqa: BLE001 - zarr-python writes the same values instead
                    log.warning("TensorStore cannot write %s (%s); writing patches through zarr-python", self.tmp_path, exc)
        return self._ts_writer[0]

    def _encode(self, name: str, values, names: tuple[str, ...]) -> np.ndarray:
        values = np.asarray(values)
        if values.dtype.kind in "iu":
            return values
        lookup = {n: i for i, n in enumerate(names)}
        try:
            return np.array([lookup[v] for v in values])
        except KeyError as exc:
            raise UnknownNameError(f"Unknown {name} {exc.args[0]!r}. Valid: {', '.join(names)}.") from None

    def set_samples(self, columns: dict[str, Any]) -> None:
        """Per-sample columns (see ``SAMPLE_COLUMNS``).

        glacier/region/sensor/scene may be names; date may be ISO strings or day numbers.
        """
        missing = [c for c in SAMPLE_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"Sample columns missing: {', '.join(missing)}.")
        cols = {k: np.asarray(v) for k, v in columns.items()}
        cols["glacier"] = self._encode("glacier", cols["glacier"], schema.GLACIER_NAMES)
        cols["region"] = self._encode("region", cols["region"], schema.REGIONS)
        cols["sensor"] = self._encode("sensor", cols["sensor"], self.sensor_names)
        cols["scene"] = self._encode("scene", cols["scene"], tuple(self.scene_ids))
        dates = np.asarray(cols["date"])
        if dates.dtype.kind not in "iu":
            dates = np.array([date_to_days(str(d)) for d in dates])
        cols["date"] = dates
        for c in SAMPLE_COLUMNS:
            values = np.asarray(cols[c]).astype(_SAMPLE_DTYPES[c])
            if values.shape != (self.n_samples,):
                raise ValueError(f"Sample column {c!r} has shape {values.shape}; expected ({self.n_samples},).")
            _create_array(self.group, f"samples/{c}", values)
        folds = cols["fold"].astype(np.int64)
        if np.any(np.diff(folds) < 0):
            raise ValueError("Rows must be sorted by fold (then glacier, scene); fold column is not sorted.")
        if len(np.unique(cols["sample_id"])) != self.n_samples:
            raise ValueError("sample_id values must be unique.")
        ranges = {}
        for k in np.unique(folds):
            idx = np.flatnonzero(folds == k)
            ranges[str(int(k))] = [int(idx[0]), int(idx[-1]) + 1]
        self.group.attrs["fold_ranges"] = ranges
        self._hash_tail.insert(0, b"".join(np.asarray(cols[c]).astype(_SAMPLE_DTYPES[c]).tobytes() for c in SAMPLE_COLUMNS))
        self._samples_set = True

    def set_labels(self, raw: np.ndarray, *, true: np.ndarray | None = None) -> None:
        """Write the raw labels and, for synthetic stores, the true labels (row order)."""
        for name, labels in (("raw", raw), ("true", true)):
            if labels is None:
                continue
            labels = np.asarray(labels, dtype=np.int8)
            if labels.shape != (self.n_samples,) or labels.min() < 0 or labels.max() >= schema.N_CLASSES:
                raise ValueError(f"{name} labels must be {self.n_samples} codes in 0..{schema.N_CLASSES - 1}.")
            _create_array(self.group, f"labels/{name}", labels)
            self._hash_tail.append(labels.tobytes())
        self._labels_set = True

    def finish(self) -> FaciesStore:
        """Validate, write the final attributes and move the store into place."""
        problems = []
        if self._written != self.n_samples:
            problems.append(f"{self._written} of {self.n_samples} patches written")
        if not self._samples_set:
            problems.append("sample columns not set")
        if not self._labels_set:
            problems.append("labels not set")
        if problems:
            self.abort()
            raise FaciesBenchError("Store build incomplete: " + "; ".join(problems) + ".")
        self._flush(final=True)
        fmin = np.where(np.isfinite(self._fmin), self._fmin, 0.0)
        fmax = np.where(np.isfinite(self._fmax), self._fmax, 1.0)
        for part in self._hash_tail:  # content hash: patches, sample columns, raw labels, true labels
            self._hash.update(part)
        self.group.attrs.update({
            "content_hash": "blake2b:" + self._hash.hexdigest(), "feature_min": fmin.tolist(),
            "feature_max": fmax.tolist(), "scene_ids": self.scene_ids, "complete": True,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        })
        seal_store(self.tmp_path, self.group)
        replace_dir(self.tmp_path, self.final_path)
        return FaciesStore(self.final_path)

    def abort(self) -> None:
        """Remove the unfinished store."""
        shutil.rmtree(self.tmp_path, ignore_errors=True)

    def __enter__(self) -> StoreBuilder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def create_patch_array(group: zarr.Group, n_samples: int) -> zarr.Array:
    """The sharded, checksummed (N, 11, 33, 33) float32 patch array (one patch per inner chunk)."""
    shape = (n_samples, schema.N_FEATURES, schema.PATCH_SIZE, schema.PATCH_SIZE)
    return group.create_array(
        "patches", shape=shape, chunks=(PATCH_CHUNK, *shape[1:]), shards=(PATCH_SHARD, *shape[1:]), dtype="float32",
        compressors=_patch_compressors(), fill_value=np.nan, config=_ARRAY_CONFIG)


def seal_store(path: str | os.PathLike, group: zarr.Group) -> None:
    """Inventory a finished store and record the inventory and attribute digests in its root attributes.

    Every array's full chunk grid must be on disk (a missing one would be a build bug).
    """
    files = integrity.StoreFiles(path)
    inv = integrity.build_inventory(files)
    for node, entry in inv["arrays"].items():
        meta = json.loads(files.read(f"{node}/zarr.json"))
        absent = [k for k in integrity.expected_chunk_keys(meta) if k not in entry["chunks"]]
        if absent:
            msg = f"Store build wrote no chunk file {node}/{absent[0]} ({len(absent)} of the grid missing); the build is incomplete."
            raise FaciesBenchError(msg)
    record = integrity.write_inventory(files, inv)
    attrs = dict(group.attrs)
    record["attrs_sha256"] = integrity.attrs_digest(attrs)
    group.attrs[integrity.INTEGRITY_ATTR] = record


def store_summary(store: FaciesStore) -> dict[str, Any]:
    """Counts per class, region, sensor, fold and glacier, scenes and date range (``data info``)."""
    meta = store.metadata("raw")
    classes = dict(zip(schema.CLASS_NAMES, np.bincount(meta["label"].to_numpy(), minlength=schema.N_CLASSES).tolist(), strict=True))
    def counts(col):
        vc = meta[col].value_counts()
        return {str(k): int(v) for k, v in vc.sort_index().items()}
    by_fold_glaciers = {str(int(k)): sorted(meta.loc[meta["fold"] == k, "glacier"].unique().tolist()) for k in sorted(meta["fold"].unique())}
    return {
        "store": store.describe(),
        "n_samples": int(len(meta)),
        "n_scenes": int(meta["scene_id"].nunique()),
        "n_glaciers": int(meta["glacier"].nunique()),
        "date_range": [str(meta["date"].min()), str(meta["date"].max())],
        "classes": classes,
        "class_share_pct": {k: round(100 * v / max(1, len(meta)), 2) for k, v in classes.items()},
        "regions": counts("region"),
        "sensors": counts("sensor"),
        "folds": counts("fold"),
        "fold_glaciers": by_fold_glaciers,
        "glaciers": counts("glacier"),
        "variants": {v: (store.variant_info(v) if v != "raw" else {"name": "raw"}) for v in store.variants},
        "default_cleaned": store.default_cleaned,
    }


def dumps(obj: Any) -> str:
    """Indented JSON of ``obj`` (unknown types as strings)."""
    return json.dumps(obj, indent=2, sort_keys=False, default=str)
