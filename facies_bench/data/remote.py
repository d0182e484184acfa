"""Stores on object storage: copy a store from an fsspec URL into a local cache once.

Training reads every patch of four folds each epoch; on object storage that is best done once.
:func:`cache_store` lists the store's objects (every Zarr chunk is one object, so whole-object
reads are chunk-aligned), downloads them with a bounded number of concurrent requests into a
temporary directory, checks the copy opens as the same store, and renames it into place.  The
cache key is the store's content hash plus a hash of its root attributes (label variants added
later change the key), so a changed store is fetched again and an unchanged one never.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from facies_bench import schema
from facies_bench.data import integrity
from facies_bench.data.store import FORMAT_NAME, _is_url, open_store
from facies_bench.errors import DatasetNotFoundError, DownloadError, StoreFormatError

log = logging.getLogger(__name__)

#: Written into a cached copy once it is complete (its name lives with the integrity checks).
CACHE_MARKER = integrity.CACHE_MARKER
#: Default number of concurrent object requests.
DEFAULT_CONCURRENCY = 16


def _root_attributes(fs, root: str, url: str) -> tuple[dict, bytes]:
    try:
        raw = fs.cat_file(f"{root}/zarr.json")
    except FileNotFoundError as exc:
        raise DatasetNotFoundError(f"No facies store at {url!r}: {root}/zarr.json does not exist.") from exc
    try:
        attrs = json.loads(raw).get("attributes", {})
    except ValueError as exc:
        raise StoreFormatError(f"{url!r} is not a facies store: its zarr.json is not JSON ({exc}).") from exc
    if attrs.get("format") != FORMAT_NAME or not attrs.get("complete"):
        msg = f"{url!r} is not a complete facies store (format {attrs.get('format')!r}, complete={attrs.get('complete')!r})."
        raise StoreFormatError(msg)
    return attrs, raw


def cache_key(attrs: dict, root_json: bytes, *, include_scenes: bool) -> str:
    """Directory name of a cached copy: dataset, version, content hash, attribute hash."""
    content = str(attrs.get("content_hash", "")).split(":")[-1][:16]
    meta = hashlib.sha256(root_json).hexdigest()[:8]
    name = schema.slug(f"{attrs.get('dataset_name', 'store')}-{attrs.get('dataset_version', '')}")
    return f"{name}-{content}-{meta}{'' if include_scenes else '-patches'}.zarr"


def cache_store(url: str | os.PathLike, cache_dir: str | os.PathLike, storage_options: dict | None = None, *,
                include_scenes: bool = False, max_concurrency: int = DEFAULT_CONCURRENCY,
                progress: Callable[[int, int], None] | None = None) -> Path:
    """Copy a store from ``url`` into ``cache_dir`` (once) and return the local path.

    Args:
        url: an fsspec URL (``s3://bucket/store.zarr``); a local path is returned unchanged.
        cache_dir: local directory holding cached copies.
        storage_options: fsspec options (``endpoint_url``, ``key``, ``anon``...).
        include_scenes: also copy the per-scene rasters (needed by the mapper, not by training
            or evaluation, which read patches and sample tables only).
        max_concurrency: at most this many object requests in flight.
        progress: called as ``progress(done, total)`` after each object.

    Returns:
        The path of the local copy.

    Raises:
        DatasetNotFoundError: nothing at ``url``.
        StoreFormatError: ``url`` holds no complete facies store.
        DownloadError: an object could not be fetched, or the copy does not match the original.
    """
    if not _is_url(url):
        return Path(url)
    from fsspec.core import url_to_fs

    url = str(url)
    fs, root = url_to_fs(url, **dict(storage_options or {}))
    root = root.rstrip("/")
    attrs, root_json = _root_attributes(fs, root, url)
    cache_dir = Path(cache_dir)
    dest = cache_dir / cache_key(attrs, root_json, include_scenes=include_scenes)
    if (dest / CACHE_MARKER).is_file():
        log.info("store %s: using cached copy %s", url, dest)
        return dest
    files = [f for f in fs.find(root) if f.rstrip("/") != root]
    rel = [f[len(root):].lstrip("/") for f in files]
    keep = [(f, r) for f, r in zip(files, rel, strict=True) if include_scenes or not (r == "scenes" or r.startswith("scenes/"))]
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    log.info("store %s: copying %d objects into %s", url, len(keep), dest)

    def fetch(item: tuple[str, str]) -> int:
        remote, relative = item
        try:
            data = fs.cat_file(remote)
        except Exception as exc:
            raise DownloadError(f"Could not fetch {remote!r} of store {url!r}: {type(exc).__name__}: {exc}") from exc
        local = tmp / relative
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        return len(data)

    try:
        n_bytes = 0
        with ThreadPoolExecutor(max_workers=max(1, int(max_concurrency))) as pool:
            for i, size in enumerate(pool.map(fetch, keep), 1):
                n_bytes += size
                if progress is not None:
                    progress(i, len(keep))
        (tmp / "zarr.json").write_bytes(root_json)  # the attributes the key was computed from
        # The marker says which nodes were left out on purpose; the open below checks the copy
        # against the store's inventory (a missing or resized object is refused).
        (tmp / CACHE_MARKER).write_text(json.dumps({"url": url, "content_hash": attrs.get("content_hash"), "n_objects": len(keep),
                                                    "n_bytes": n_bytes, "include_scenes": include_scenes}))
        copy = open_store(tmp)
        if copy.content_hash != attrs.get("content_hash"):
            msg = f"Copy of {url!r} has content hash {copy.content_hash}, the original {attrs.get('content_hash')}; the store changed while it was copied. Try again."
            raise DownloadError(msg)
        if dest.exists() and not (dest / CACHE_MARKER).is_file():  # left over from an interrupted copy
            shutil.rmtree(dest, ignore_errors=True)
        try:
            os.replace(tmp, dest)
        except OSError:
            if not (dest / CACHE_MARKER).is_file():  # lost a race against another process: theirs is fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
