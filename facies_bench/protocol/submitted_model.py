"""The submitted model: loaded from a ``.py`` file, a module, or a registered / entry-point model name.

A submission registers exactly one model with :mod:`facies_bench.models`.  Files are imported in
isolation (their own module name, see :func:`facies_bench.models.import_submission`) and the
harness records which name they registered and the SHA-256 of the file, which goes into every
work-unit id and result.  :class:`SubmissionRef` is the small picklable handle that travels to
Ray workers, which load the submission again from the file's text.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facies_bench.atomic import atomic_write_text
from facies_bench.errors import SubmissionError, UnknownNameError

log = logging.getLogger(__name__)

SOURCE_KINDS = ("file", "module", "registered")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SubmissionRef:
    """Everything a worker process needs to load a submission (picklable, no live objects).

    Attributes:
        source: what the user passed (file path, module name or model name).
        source_kind: ``file``, ``module`` or ``registered``.
        model_name: the registry name the submission registers.
        sha256: SHA-256 of the submission file (or of the defining file for modules/names).
        filename: the file's base name (files only).
        text: the file's content (files only), so workers need no shared file system.
    """

    source: str
    source_kind: str
    model_name: str
    sha256: str
    filename: str | None = None
    text: str | None = field(default=None, repr=False)

    def load(self) -> Submission:
        """Load the submission in this process (idempotent) and check it is the same one."""
        if self.source_kind == "file":
            path = Path(self.source)
            if not (path.is_file() and sha256_bytes(path.read_bytes()) == self.sha256):
                path = _materialise(self)
            sub = load_submission(path)
        else:
            sub = load_submission(self.source)
        if sub.model_name != self.model_name or sub.sha256 != self.sha256:
            msg = (f"Submission {self.source!r} changed since the run was planned: it now registers "
                   f"{sub.model_name!r} (sha256 {sub.sha256[:12]}), the run expects {self.model_name!r} "
                   f"(sha256 {self.sha256[:12]}). Start a new run directory or restore the file.")
            raise SubmissionError(msg)
        return sub


def _materialise(ref: SubmissionRef) -> Path:
    """Write a shipped submission file to a path that depends only on its hash."""
    root = Path(tempfile.gettempdir()) / "facies-bench-submissions" / ref.sha256[:16]
    path = root / (ref.filename or "submission.py")
    if not path.is_file():
        atomic_write_text(path, ref.text or "")
    return path


@dataclass(frozen=True)
class Submission:
    """A loaded submission.

    Attributes:
        source: what the user passed.
        source_kind: ``file``, ``module`` or ``registered``.
        model_name: the one registry name it registers.
        sha256: SHA-256 of the submission file (files), else of the file defining the model.
        path: resolved file path, when there is one.
        entry: the :class:`~facies_bench.models.ModelEntry`.
    """

    source: str
    source_kind: str
    model_name: str
    sha256: str
    path: str | None
    entry: Any = field(repr=False, compare=False)

    @property
    def kind(self) -> str:
        """``torch`` or ``estimator``."""
        return self.entry.kind

    @property
    def label(self) -> str:
        """How messages name this submission: ``'file.py' (model 'name')``."""
        return f"{self.source!r} (model {self.model_name!r})"

    def ref(self) -> SubmissionRef:
        """A picklable reference from which a worker reloads the submission."""
        text = Path(self.path).read_text(encoding="utf-8") if self.source_kind == "file" and self.path else None
        return SubmissionRef(source=self.path if self.source_kind == "file" and self.path else self.source,
                             source_kind=self.source_kind, model_name=self.model_name, sha256=self.sha256,
                             filename=Path(self.path).name if self.path else None, text=text)

    def describe(self) -> dict[str, Any]:
        """The ``model`` block of ``result.json``."""
        return {"name": self.model_name, "kind": self.kind, "submission": self.source,
                "submission_sha256": self.sha256, "hparams": dict(self.entry.hparams),
                "recipe_overrides": dict(self.entry.recipe)}


def _file_sha(path: str | None, fallback: str) -> str:
    if path and Path(path).is_file():
        return sha256_bytes(Path(path).read_bytes())
    return sha256_bytes(fallback.encode())


def _one_name(source: str, names: tuple[str, ...]) -> str:
    if not names:
        msg = (f"Submission {source!r} registers no model. Decorate a builder or estimator class with "
               "@facies_bench.models.register_model('family_variant') (see submissions/TEMPLATE.py).")
        raise SubmissionError(msg)
    if len(names) > 1:
        msg = (f"Submission {source!r} registers {len(names)} models ({', '.join(names)}); a submission must "
               "register exactly one. Split it into one file per model.")
        raise SubmissionError(msg)
    return names[0]


def load_submission(source: str | os.PathLike) -> Submission:
    """Load a submission and find the one model it registers.

    Args:
        source: a ``.py`` file, an importable module name, or the name of a model already
            registered (built-in ``test_*`` models, entry points of group ``facies_bench.models``).

    Returns:
        The loaded :class:`Submission`.

    Raises:
        SubmissionError: the file is missing, fails to import, or registers no model or several.
        UnknownNameError: ``source`` is neither a file, a module nor a registered name.
    """
    from facies_bench.models import get_model_entry, import_submission, list_models

    text = str(source)
    path = Path(text)
    if text.endswith(".py") or path.exists():
        if not path.is_file():
            raise SubmissionError(f"Submission file {text!r} does not exist; pass a .py file that registers a model.")
        name = _one_name(text, import_submission(path))
        resolved = str(path.resolve())
        return Submission(source=text, source_kind="file", model_name=name,
                          sha256=sha256_bytes(path.read_bytes()), path=resolved, entry=get_model_entry(name))
    if text in list_models():
        entry = get_model_entry(text)
        return Submission(source=text, source_kind="registered", model_name=text,
                          sha256=_file_sha(entry.source, entry.target_path), path=entry.source, entry=entry)
    import importlib.util

    try:
        found = importlib.util.find_spec(text)
    except (ImportError, ValueError):
        found = None
    if found is None:
        msg = (f"Unknown submission {text!r}: not a file, not an importable module and not a registered model. "
               f"Registered: {', '.join(list_models()) or '(none)'}. Pass a .py file such as submissions/TEMPLATE.py.")
        raise UnknownNameError(msg)
    name = _one_name(text, import_submission(text))
    entry = get_model_entry(name)
    origin = found.origin if found.origin and Path(found.origin).is_file() else entry.source
    return Submission(source=text, source_kind="module", model_name=name,
                      sha256=_file_sha(origin, entry.target_path), path=origin, entry=entry)
