"""Atomic replacement of whole directories (stores, exports, reports)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def replace_dir(new: str | os.PathLike, final: str | os.PathLike) -> None:
    """Move the finished directory ``new`` to ``final``, replacing what was there.

    An existing ``final`` is first renamed aside and removed only after ``new`` is in place, so
    a reader sees either the old directory or the new one, never a half-written mix.
    """
    new, final = Path(new), Path(final)
    if final.exists():
        backup = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, backup)
        os.replace(new, final)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(new, final)
