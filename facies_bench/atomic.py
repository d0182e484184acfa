"""File-writing primitives used across the package: nothing is ever half-written.

Every file goes to a temporary sibling first and is renamed into place only when complete
(``os.replace`` is atomic on one file system), so a crash or a bad input leaves either the old
file or the new one, never a mix.  Whole directories (stores, exports, reports) are swapped the
same way by :func:`replace_dir`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


def is_url(path: str | os.PathLike) -> bool:
    """True for fsspec-style URLs (``s3://...``, ``https://...``), False for local paths."""
    return "://" in str(path)


def _sibling(path: Path, kind: str, suffix: str = "") -> Path:
    return path.with_name(f".{path.name}.{kind}-{uuid.uuid4().hex[:8]}{suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str = "") -> Iterator[Path]:
    """A temporary sibling of ``path`` to write; renamed to ``path`` when the block succeeds.

    Args:
        path: the final file; its folder is created.
        suffix: extension for the temporary name, for writers that infer the format from it
            (``".png"``, ``".tif"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(path, "tmp", suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a synced temporary sibling."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` through a synced temporary sibling."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def replace_dir(new: str | os.PathLike, final: str | os.PathLike) -> None:
    """Move the finished directory ``new`` to ``final``, replacing what was there.

    An existing ``final`` is first renamed aside and removed only after ``new`` is in place, so
    a reader sees either the old directory or the new one, never a half-written mix.
    """
    new, final = Path(new), Path(final)
    if final.exists():
        backup = _sibling(final, "old")
        os.replace(final, backup)
        os.replace(new, final)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(new, final)
