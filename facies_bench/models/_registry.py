"""The model registry: submissions register a torch builder or an estimator class under a name.

Two kinds of entries:

* ``"torch"``: a builder ``builder(in_channels: int, n_classes: int, **hparams) -> nn.Module``
  mapping (B, C, 33, 33) normalised patches to (B, K) logits; the harness trains it with the
  standard recipe (:class:`facies_bench.training.TrainingRecipe`), with the entry's recipe
  overrides applied.
* ``"estimator"``: a class whose instances offer ``fit(train, validation)`` and
  ``predict_proba(split) -> (N, K)`` on :class:`facies_bench.training.ArraySplit`; it trains
  itself.

Names follow ``family_variant``.  Registering a name twice is an error, except that registering
the *same* definition again (the same module, qualified name and source file, as when a
submission file is loaded twice) replaces the entry.  Nothing but the ``test_*`` models of
:mod:`facies_bench.models.tiny` is registered on import; the paper's CNN is registered by
``baselines/paper_cnn.py``.  Packages add models through the entry-point group
``facies_bench.models``, loaded on first look-up.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facies_bench import schema
from facies_bench.errors import SubmissionError, UnknownNameError
from facies_bench.recipe import check_recipe_overrides

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "facies_bench.models"
KINDS = ("torch", "estimator")
#: Prefix of the module names given to submission files loaded by :func:`import_submission`.
SUBMISSION_MODULE_PREFIX = "facies_bench_submission_"

_REGISTRY: dict[str, ModelEntry] = {}
_COLLECTORS: list[list[str]] = []
_ENTRY_POINTS_LOADED = False


@dataclass(frozen=True)
class ModelEntry:
    """One registered model.

    Attributes:
        name: registry key (``family_variant``).
        kind: ``"torch"`` (builder trained by the harness) or ``"estimator"`` (fit/predict_proba).
        target: the builder function / ``nn.Module`` class, or the estimator class.
        hparams: default keyword arguments for ``target``.
        recipe: :class:`~facies_bench.training.TrainingRecipe` fields this model overrides.
        description: one line for ``facies-bench models list``.
        source: the file that defines ``target`` (None if unknown).
    """

    name: str
    kind: str
    target: Callable[..., Any]
    hparams: Mapping[str, Any] = field(default_factory=dict)
    recipe: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    source: str | None = None

    @property
    def target_path(self) -> str:
        """``module:qualname`` of the target."""
        return f"{self.target.__module__}:{self.target.__qualname__}"

    @property
    def importable(self) -> bool:
        """Whether ``target_path`` can be imported in a fresh process (not a loaded submission file)."""
        module = self.target.__module__
        return not (module == "__main__" or module.startswith(SUBMISSION_MODULE_PREFIX) or "<locals>" in self.target.__qualname__)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "target": self.target_path, "hparams": dict(self.hparams),
                "recipe": dict(self.recipe), "description": self.description, "source": self.source}


def _source_file(obj: Any) -> str | None:
    try:
        path = inspect.getsourcefile(obj)
    except TypeError:
        return None
    return str(Path(path).resolve()) if path else None


def _identity(obj: Any) -> tuple[str, str, str | None]:
    return (getattr(obj, "__module__", ""), getattr(obj, "__qualname__", repr(obj)), _source_file(obj))


def _infer_kind(obj: Any) -> str:
    if inspect.isclass(obj) and callable(getattr(obj, "fit", None)) and callable(getattr(obj, "predict_proba", None)):
        return "estimator"
    if callable(obj):
        return "torch"
    msg = f"Cannot register {obj!r}: expected a builder function, an nn.Module class or an estimator class with fit/predict_proba."
    raise SubmissionError(msg)


def _first_doc_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def register_model(name: str | Callable[..., Any] | None = None, *, kind: str | None = None,
                   hparams: Mapping[str, Any] | None = None, recipe: Mapping[str, Any] | None = None,
                   description: str | None = None) -> Callable[..., Any]:
    """Decorator registering a torch builder or an estimator class.

    Usage::

        @register_model("my_cnn", recipe={"lr": 3e-4}, hparams={"width": 32})
        def build(in_channels: int, n_classes: int, *, width: int = 32) -> nn.Module: ...

        @register_model            # name taken from the function / class name
        def my_unet_small(in_channels, n_classes): ...

    Args:
        name: registry key; defaults to the decorated object's ``__name__``.
        kind: ``"torch"`` or ``"estimator"``; inferred when omitted (a class with ``fit`` and
            ``predict_proba`` is an estimator, anything else callable a torch builder).
        hparams: default keyword arguments passed to the builder / class.
        recipe: training-recipe fields to override (torch models only).
        description: one line for ``models list``; defaults to the docstring's first line.

    Returns:
        The decorator (or, used bare, the decorated object itself, unchanged).

    Raises:
        SubmissionError: the name is taken by a different definition, or the kind is invalid.
        UnknownNameError: ``recipe`` names a field the training recipe does not have.
    """
    if callable(name) and not isinstance(name, str):  # bare @register_model
        return register_model(None, kind=kind, hparams=hparams, recipe=recipe, description=description)(name)

    def decorator(obj: Callable[..., Any]) -> Callable[..., Any]:
        key = name or getattr(obj, "__name__", None)
        if not key or not isinstance(key, str):
            raise SubmissionError(f"Cannot register {obj!r} without a name; pass register_model('family_variant').")
        entry_kind = kind or _infer_kind(obj)
        if entry_kind not in KINDS:
            raise SubmissionError(f"Model {key!r}: unknown kind {entry_kind!r}. Valid: {', '.join(KINDS)}.")
        overrides = dict(recipe or {})
        if overrides:
            if entry_kind != "torch":
                raise SubmissionError(f"Model {key!r} is an estimator; recipe overrides apply to torch models only (got {sorted(overrides)}).")
            check_recipe_overrides(overrides, source=f"recipe override of model {key!r}")
        entry = ModelEntry(name=key, kind=entry_kind, target=obj, hparams=dict(hparams or {}), recipe=overrides,
                           description=description if description is not None else _first_doc_line(obj),
                           source=_source_file(obj))
        existing = _REGISTRY.get(key)
        if existing is not None and _identity(existing.target) != _identity(obj):
            where = existing.source or existing.target_path
            msg = (f"Model name {key!r} is already registered by {existing.target_path} ({where}); "
                   f"{_identity(obj)[0]}:{_identity(obj)[1]} cannot take it. Choose another name "
                   "(registry keys are 'family_variant').")
            raise SubmissionError(msg)
        _REGISTRY[key] = entry
        for names in _COLLECTORS:
            names.append(key)
        return obj

    return decorator


def unregister_model(name: str) -> None:
    """Remove an entry (for tests and for rolling back a submission that failed to load)."""
    if name not in _REGISTRY:
        raise UnknownNameError(_unknown_message(name))
    del _REGISTRY[name]


@contextlib.contextmanager
def collect_registrations() -> Iterator[list[str]]:
    """Context manager yielding the list of names registered while it is open.

    Re-registrations of the same definition are listed too, so loading a submission file a
    second time still shows which model it registers.
    """
    names: list[str] = []
    _COLLECTORS.append(names)
    try:
        yield names
    finally:
        _COLLECTORS.remove(names)


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            with collect_registrations() as names:
                obj = ep.load()
        except Exception as exc:  # a broken plug-in must not break the others
            log.warning("Could not load model entry point %r (%s): %s", ep.name, ep.value, exc)
            continue
        if ep.name in _REGISTRY or ep.name in names:
            continue
        if isinstance(obj, types.ModuleType):
            continue  # a module whose import registered its models
        try:
            register_model(ep.name)(obj)
        except Exception as exc:
            log.warning("Could not register model entry point %r (%s): %s", ep.name, ep.value, exc)


def _unknown_message(name: str) -> str:
    registered = ", ".join(sorted(_REGISTRY)) or "(none)"
    return f"Unknown model {name!r}. Registered: {registered}. See `facies-bench models list`."


def list_models(pattern: str | None = None, *, kind: str | None = None) -> list[str]:
    """Sorted registered names, optionally filtered by a glob ``pattern`` and a ``kind``."""
    _load_entry_points()
    names = sorted(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if kind:
        names = [n for n in names if _REGISTRY[n].kind == kind]
    return names


def get_model_entry(name: str) -> ModelEntry:
    """The :class:`ModelEntry` registered as ``name``; :class:`UnknownNameError` lists the names."""
    if name not in _REGISTRY:
        _load_entry_points()
    if name not in _REGISTRY:
        raise UnknownNameError(_unknown_message(name))
    return _REGISTRY[name]


def _accepts(target: Callable[..., Any], param: str) -> bool:
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return False
    return param in sig.parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())


def create_model(name: str, in_channels: int | None = None, n_classes: int = schema.N_CLASSES, **hparams: Any) -> Any:
    """Build a registered model.

    Args:
        name: registry key.
        in_channels: input channels C (required for torch models).
        n_classes: output classes K.
        **hparams: override the entry's default hyperparameters.

    Returns:
        An ``nn.Module`` (torch entries) or an unfitted estimator instance.

    Raises:
        UnknownNameError: ``name`` is not registered.
        SubmissionError: the builder fails or returns something that is not an ``nn.Module``.
    """
    entry = get_model_entry(name)
    kwargs = {**entry.hparams, **hparams}
    if entry.kind == "torch":
        import torch.nn as nn

        if in_channels is None:
            raise ValueError(f"Model {name!r} is a torch model: create_model needs in_channels (the number of input features).")
        try:
            module = entry.target(int(in_channels), int(n_classes), **kwargs)
        except Exception as exc:
            msg = f"Builder of model {name!r} ({entry.target_path}) failed with in_channels={in_channels}, n_classes={n_classes}, hparams={kwargs}: {type(exc).__name__}: {exc}"
            raise SubmissionError(msg) from exc
        if not isinstance(module, nn.Module):
            msg = f"Builder of model {name!r} ({entry.target_path}) returned {type(module).__name__}; it must return a torch.nn.Module."
            raise SubmissionError(msg)
        return module
    for param, value in (("in_channels", in_channels), ("n_classes", n_classes)):
        if value is not None and param not in kwargs and _accepts(entry.target, param):
            kwargs[param] = value
    try:
        return entry.target(**kwargs)
    except Exception as exc:
        msg = f"Estimator of model {name!r} ({entry.target_path}) could not be created with {kwargs}: {type(exc).__name__}: {exc}"
        raise SubmissionError(msg) from exc


def submission_module_name(path: str | Path) -> str:
    """The module name under which :func:`import_submission` loads a file (stable per path)."""
    resolved = str(Path(path).resolve())
    digest = hashlib.sha1(resolved.encode()).hexdigest()[:10]
    return f"{SUBMISSION_MODULE_PREFIX}{schema.slug(Path(path).stem) or 'file'}_{digest}"


def import_submission(submission: str | Path) -> tuple[str, ...]:
    """Import a submission (a ``.py`` file or a dotted module name) and return the names it registers.

    A file is executed as module :func:`submission_module_name`; loading the same file again
    re-runs it and re-registers the same definitions (no duplicate error).  If the import
    fails, the entries it registered are removed again.

    Raises:
        SubmissionError: the file does not exist or raises on import (message names the file).
    """
    text = str(submission)
    path = Path(text)
    is_file = text.endswith(".py") or path.exists()
    before = set(_REGISTRY)
    with collect_registrations() as names:
        try:
            if is_file:
                if not path.is_file():
                    raise SubmissionError(f"Submission file {text!r} does not exist; pass a .py file that registers a model.")
                module_name = submission_module_name(path)
                spec = importlib.util.spec_from_file_location(module_name, path.resolve())
                if spec is None or spec.loader is None:
                    raise SubmissionError(f"Submission file {text!r} cannot be imported as a Python module.")
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(module_name, None)
                    raise
            elif text in sys.modules:
                importlib.reload(sys.modules[text])
            else:
                importlib.import_module(text)
        except SubmissionError:
            _rollback(names, before)
            raise
        except Exception as exc:
            _rollback(names, before)
            msg = f"Submission {text!r} failed to import: {type(exc).__name__}: {exc}"
            raise SubmissionError(msg) from exc
    return tuple(dict.fromkeys(names))


def _rollback(names: list[str], before: set[str]) -> None:
    for name in set(names) - before:
        _REGISTRY.pop(name, None)
