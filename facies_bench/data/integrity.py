"""Self-checking stores: the inventory written at build time, and the checks made against it.

Every chunk of a store verifies itself (Zarr v3's ``crc32c`` codec ends every chunk, every inner
chunk of a shard and every shard index), but a chunk that is *missing* reads as the array's fill
value without any error.  So a store also carries an **inventory**: one JSON file, written when
the store is built (and rewritten when a label variant is added), listing every node's metadata
digest and every chunk file with its size and its last four bytes (the chunk's or the shard
index's stored crc32c, a free fingerprint of the file).  The root attributes name the inventory
file and record its digest and a digest of the attributes themselves, so the root ``zarr.json``
is the single commit point and a hand edit of it shows.

Three levels of checking:

* :func:`check_store` with ``level="open"`` (done by every :class:`~facies_bench.data.store.FaciesStore`
  on open): attribute and inventory digests, metadata digests, and one directory listing compared
  with the inventory (missing, extra, resized files).  It reads only metadata files and the listing.
* ``level="verify"`` (``facies-bench data verify``): also every chunk file's fingerprint (four
  bytes per file) and every label variant's recorded hash.
* ``level="full"`` (``data verify --full``): also decodes every chunk of every array (checksums)
  and recomputes the content hash; see :mod:`facies_bench.data.verify`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INVENTORY_FORMAT = "facies-bench-inventory"
INVENTORY_VERSION = 1
#: Root-attribute key holding the inventory's name and the digests.
INTEGRITY_ATTR = "integrity"
INVENTORY_PREFIX = "facies-inventory-"
#: Written by :func:`facies_bench.data.remote.cache_store` into a finished local copy of a URL store.
CACHE_MARKER = ".facies-bench-cache.json"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a store: the file (relative to the store root) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def attrs_digest(attrs: dict[str, Any]) -> str:
    """sha256 of the root attributes (without the integrity record), canonical JSON."""
    body = {k: v for k, v in attrs.items() if k != INTEGRITY_ATTR}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# File access, local or fsspec
# --------------------------------------------------------------------------------------------


class StoreFiles:
    """Listing and reading the files of a store, on local disk or behind an fsspec URL."""

    def __init__(self, path: str | os.PathLike, storage_options: dict | None = None):
        self.path = str(path)
        self.is_url = "://" in self.path
        if self.is_url:
            from fsspec.core import url_to_fs

            self.fs, root = url_to_fs(self.path, **dict(storage_options or {}))
            self.root = root.rstrip("/")
        else:
            self.fs, self.root = None, str(Path(self.path))

    def listing(self) -> dict[str, int]:
        """Every file below the root: relative path -> size in bytes."""
        out: dict[str, int] = {}
        if self.is_url:
            self.fs.invalidate_cache(self.root)  # a fresh listing, never fsspec's cached one
            for full, info in self.fs.find(self.root, detail=True).items():
                rel = full[len(self.root):].lstrip("/")
                if rel:
                    out[rel] = int(info.get("size") or 0)
            return out
        root_len = len(self.root) + 1
        stack = [self.root]
        while stack:
            folder = stack.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        out[entry.path[root_len:].replace(os.sep, "/")] = entry.stat(follow_symlinks=False).st_size
        return out

    def read(self, rel: str) -> bytes:
        """Bytes of the file ``rel`` below the store root."""
        if self.is_url:
            return self.fs.cat_file(f"{self.root}/{rel}")
        return (Path(self.root) / rel).read_bytes()

    def tail(self, rel: str, n: int = 4) -> bytes:
        """The last ``n`` bytes of the file ``rel``."""
        if self.is_url:
            size = self.fs.size(f"{self.root}/{rel}")
            return self.fs.cat_file(f"{self.root}/{rel}", start=max(0, size - n), end=size)
        with open(Path(self.root) / rel, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - n))
            return fh.read()

    def write_atomic(self, rel: str, data: bytes) -> None:
        """Write ``data`` to ``rel`` so that readers see the old or the new file, never a partial one."""
        if self.is_url:
            self.fs.pipe_file(f"{self.root}/{rel}", data)
            return
        target = Path(self.root) / rel
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def delete(self, rel: str) -> None:
        """Remove the file ``rel`` if it exists."""
        try:
            if self.is_url:
                self.fs.rm_file(f"{self.root}/{rel}")
            else:
                (Path(self.root) / rel).unlink()
        except FileNotFoundError:
            pass


# --------------------------------------------------------------------------------------------
# Building the inventory
# --------------------------------------------------------------------------------------------


def _nodes(listing: dict[str, int]) -> dict[str, str]:
    """Node path ('' for the root) -> its metadata file, for every zarr.json in the listing."""
    out = {}
    for rel in listing:
        if rel == "zarr.json":
            out[""] = rel
        elif rel.endswith("/zarr.json"):
            out[rel[: -len("/zarr.json")]] = rel
    return out


def _owner(rel: str, arrays: set[str]) -> str | None:
    """The array whose chunk file ``rel`` is (``<array>/c/...``), else None."""
    head, sep, _ = rel.partition("/c/")
    while sep:
        if head in arrays:
            return head
        # an array path may itself contain "/c/" (a scene called "c"): try the next split
        nxt = rel.find("/c/", len(head) + 1)
        if nxt < 0:
            break
        head = rel[:nxt]
    return None


def build_inventory(files: StoreFiles, *, prefixes: tuple[str, ...] | None = None,
                    base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The inventory of a store (or, with ``prefixes``, of some nodes merged into ``base``).

    Args:
        files: the store's files.
        prefixes: node paths to (re)inventory; None for every node.
        base: an existing inventory to update (entries under ``prefixes`` are replaced).
    """
    listing = files.listing()
    nodes = _nodes(listing)
    kinds: dict[str, str] = {}
    for node, meta in nodes.items():
        if node == "" or (prefixes is not None and not _under(node, prefixes)):
            continue
        kinds[node] = json.loads(files.read(meta)).get("node_type", "")
    arrays = {n for n, k in kinds.items() if k == "array"}
    inv: dict[str, Any] = {"format": INVENTORY_FORMAT, "version": INVENTORY_VERSION, "arrays": {}, "groups": {}}
    if base is not None:
        def keep(n: str) -> bool:
            return prefixes is None or not _under(n, prefixes)

        inv["arrays"] = {n: v for n, v in base.get("arrays", {}).items() if keep(n)}
        inv["groups"] = {n: v for n, v in base.get("groups", {}).items() if keep(n)}
    for node in sorted(kinds):
        digest = hashlib.sha256(files.read(nodes[node])).hexdigest()
        if node in arrays:
            inv["arrays"][node] = {"metadata_sha256": digest, "chunks": {}}
        else:
            inv["groups"][node] = {"metadata_sha256": digest}
    for rel in sorted(listing):
        owner = _owner(rel, arrays)
        if owner is not None:
            inv["arrays"][owner]["chunks"][rel[len(owner) + 1:]] = [listing[rel], files.tail(rel).hex()]
    return inv


def _under(node: str, prefixes: tuple[str, ...]) -> bool:
    return any(node == p or node.startswith(p + "/") for p in prefixes)


def inventory_bytes(inv: dict[str, Any]) -> bytes:
    """The inventory as canonical JSON bytes (sorted keys, no spaces)."""
    return json.dumps(inv, sort_keys=True, separators=(",", ":")).encode()


def write_inventory(files: StoreFiles, inv: dict[str, Any]) -> dict[str, str]:
    """Write ``inv`` under a content-addressed name and return the integrity record for the attributes.

    The record lacks ``attrs_sha256``, which the caller adds once the attributes are final.
    """
    data = inventory_bytes(inv)
    digest = hashlib.sha256(data).hexdigest()
    name = f"{INVENTORY_PREFIX}{digest[:16]}.json"
    files.write_atomic(name, data)
    return {"inventory": name, "inventory_sha256": digest}


def expected_chunk_keys(meta: dict[str, Any]) -> list[str]:
    """Chunk (or shard) file keys of a Zarr v3 array's full chunk grid, from its metadata."""
    import itertools
    import math

    shape = meta["shape"]
    grid = meta["chunk_grid"]["configuration"]["chunk_shape"]
    enc = meta.get("chunk_key_encoding", {"name": "default"})
    sep = enc.get("configuration", {}).get("separator", "/")
    counts = [max(1, math.ceil(s / c)) if s else 0 for s, c in zip(shape, grid, strict=True)]
    if not shape:
        return ["c"]
    return ["c" + sep + sep.join(str(i) for i in idx) for idx in itertools.product(*(range(n) for n in counts))]


# --------------------------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------------------------


def load_inventory(files: StoreFiles, attrs: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The inventory named by ``attrs`` after checking both digests; (None, problems) if unusable."""
    record = attrs.get(INTEGRITY_ATTR)
    if not isinstance(record, dict) or "inventory" not in record:
        return None, [Problem("zarr.json", "no integrity record in the root attributes (attribute 'integrity' is missing or edited)")]
    problems = []
    if record.get("attrs_sha256") != attrs_digest(attrs):
        problems.append(Problem("zarr.json", "root attributes were changed after the store was written (attribute digest mismatch)"))
    name = str(record["inventory"])
    try:
        data = files.read(name)
    except (FileNotFoundError, OSError):
        return None, problems + [Problem(name, "inventory file is missing")]
    if hashlib.sha256(data).hexdigest() != record.get("inventory_sha256"):
        return None, problems + [Problem(name, "inventory file was changed (digest mismatch)")]
    try:
        inv = json.loads(data)
    except ValueError as exc:
        return None, problems + [Problem(name, f"inventory is not JSON ({exc})")]
    return inv, problems


def check_store(files: StoreFiles, attrs: dict[str, Any], *, level: str = "open",
                required: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> list[Problem]:
    """Problems found in a store by comparing it with its inventory (empty list: none).

    Args:
        files: the store's files.
        attrs: its root attributes as read.
        level: ``"open"`` (metadata digests and the listing) or ``"verify"`` (plus every chunk
            file's fingerprint).
        required: array paths that must be in the inventory (patches, samples, label variants).
        skip: node paths left out on purpose (the scene rasters of a patches-only cached copy).
    """
    inv, problems = load_inventory(files, attrs)
    if inv is None:
        return problems
    listing = files.listing()
    arrays: dict[str, Any] = {n: v for n, v in inv.get("arrays", {}).items() if not _under(n, skip)}
    groups = {n: v for n, v in inv.get("groups", {}).items() if not _under(n, skip)}
    for name in required:
        if name not in arrays:
            problems.append(Problem(f"{name}/zarr.json", "array is not in the store's inventory"))
    for node, entry in {**groups, **arrays}.items():
        meta = f"{node}/zarr.json"
        if meta not in listing:
            problems.append(Problem(meta, "metadata file is missing"))
            continue
        if hashlib.sha256(files.read(meta)).hexdigest() != entry.get("metadata_sha256"):
            problems.append(Problem(meta, "metadata was edited after the store was written (digest mismatch)"))
    for node, entry in arrays.items():
        chunks = entry.get("chunks", {})
        for key, (size, tail) in chunks.items():
            rel = f"{node}/{key}"
            actual = listing.get(rel)
            if actual is None:
                problems.append(Problem(rel, f"chunk file is missing (array {node})"))
            elif actual != size:
                problems.append(Problem(rel, f"chunk file has {actual} bytes, the inventory records {size} (truncated, extended or replaced)"))
            elif level != "open" and files.tail(rel).hex() != tail:
                problems.append(Problem(rel, "chunk file differs from the one written (its stored checksum changed: replaced or swapped)"))
    names = set(arrays)
    for rel in listing:
        owner = _owner(rel, names)
        if owner is not None and rel[len(owner) + 1:] not in arrays[owner].get("chunks", {}):
            problems.append(Problem(rel, f"unexpected chunk file in array {owner} (not in the inventory)"))
    return problems
