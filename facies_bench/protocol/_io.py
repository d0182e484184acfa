"""Atomic reads and writes under a run directory that is a local path or an fsspec URL.

Local files are written to a temporary sibling and renamed into place (``os.replace``); on object
storage a single PUT is already atomic, so the object is written in one call.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facies_bench.atomic import atomic_write_bytes, is_url

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunDir", "atomic_write_bytes", "dumps_json", "frame_to_parquet_bytes", "is_url"]


def dumps_json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, default=_json_default) + "\n").encode()


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def frame_to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


class RunDir:
    """A protocol run directory: a local folder or an fsspec URL (``s3://bucket/runs/x``).

    Args:
        root: the directory.
        storage_options: fsspec options for URLs.
    """

    def __init__(self, root: str | os.PathLike, *, storage_options: dict | None = None):
        self.root = str(root).rstrip("/")
        self.storage_options = dict(storage_options or {})
        self.is_url = is_url(self.root)
        self._fs = None

    @property
    def fs(self) -> Any:
        if self._fs is None:
            from fsspec.core import url_to_fs

            self._fs, _ = url_to_fs(self.root, **self.storage_options)
        return self._fs

    def path(self, rel: str = "") -> str:
        """Full path (or URL) of ``rel`` under the run directory."""
        return f"{self.root}/{rel}" if rel else self.root

    def _fs_path(self, rel: str) -> str:
        from fsspec.core import url_to_fs

        _, path = url_to_fs(self.path(rel), **self.storage_options)
        return path

    def exists(self, rel: str) -> bool:
        if not self.is_url:
            return Path(self.path(rel)).exists()
        return self.fs.exists(self._fs_path(rel))

    def read_bytes(self, rel: str) -> bytes:
        if not self.is_url:
            return Path(self.path(rel)).read_bytes()
        return self.fs.cat_file(self._fs_path(rel))

    def read_json(self, rel: str) -> Any:
        return json.loads(self.read_bytes(rel))

    def read_parquet(self, rel: str) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(self.read_bytes(rel)))

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write one file atomically."""
        if not self.is_url:
            atomic_write_bytes(self.path(rel), data)
        else:
            self.fs.pipe_file(self._fs_path(rel), data)

    def write_json(self, rel: str, obj: Any) -> None:
        self.write_bytes(rel, dumps_json(obj))

    def write_parquet(self, rel: str, frame: pd.DataFrame) -> None:
        self.write_bytes(rel, frame_to_parquet_bytes(frame))

    def remove_tree(self, rel: str) -> None:
        if not self.exists(rel):
            return
        if not self.is_url:
            shutil.rmtree(self.path(rel), ignore_errors=True)
        else:
            self.fs.rm(self._fs_path(rel), recursive=True)

    def staging_dir(self) -> Path:
        """A fresh local directory to assemble outputs in before :meth:`publish_dir`."""
        if not self.is_url:
            Path(self.root).mkdir(parents=True, exist_ok=True)
            path = Path(self.root) / f".staging-{uuid.uuid4().hex[:8]}"
            path.mkdir()
            return path
        import tempfile

        return Path(tempfile.mkdtemp(prefix="facies-bench-"))

    def publish_dir(self, local_dir: str | Path, rel: str) -> None:
        """Move (local) or upload (URL) a finished local directory to ``rel``, replacing it whole."""
        local_dir = Path(local_dir)
        if not self.is_url:
            dest = Path(self.path(rel))
            dest.parent.mkdir(parents=True, exist_ok=True)
            old = None
            if dest.exists():
                old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
                os.replace(dest, old)
            try:
                os.replace(local_dir, dest)
            except OSError:  # another file system: copy next to the destination, then rename
                staging = dest.with_name(f".{dest.name}.new-{uuid.uuid4().hex[:8]}")
                shutil.copytree(local_dir, staging)
                os.replace(staging, dest)
                shutil.rmtree(local_dir, ignore_errors=True)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            return
        for file in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            self.write_bytes(f"{rel}/{file.relative_to(local_dir).as_posix()}", file.read_bytes())
        shutil.rmtree(local_dir, ignore_errors=True)
