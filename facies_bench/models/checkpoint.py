"""Checkpoints: one file per trained model, loadable with ``facies_bench.load_model(PATH)``.

The file is a ``torch.save`` dict (loaded with ``weights_only=True``: plain types and tensors
only)::

    format: "facies-bench-checkpoint"   version: 1
    model_name, builder ("module:qualname" or None), submission (file path or None)
    in_channels, n_classes, hparams, features, feature_min, feature_max (None: identity)
    state_dict (the backbone's), meta (JSON-like provenance), package_version, torch_version, created

The architecture is rebuilt from ``builder`` when it is importable, else from the registry
entry ``model_name``, else by importing the ``submission`` file recorded in the checkpoint.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from facies_bench.atomic import atomic_path
from facies_bench.errors import CheckpointError, FaciesBenchError
from facies_bench.models.wrapper import FaciesModel

FORMAT = "facies-bench-checkpoint"
VERSION = 1


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("facies-bench")
    except Exception:
        return "unknown"


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def save_checkpoint(model: FaciesModel, path: str | os.PathLike, *, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``path`` atomically (temporary file in the same folder, then rename).

    Args:
        model: the wrapped model; its backbone weights, features, normalisation, registry name,
            builder and hyperparameters are stored.
        path: destination (conventionally ``*.pt``).
        meta: provenance merged over ``model.meta`` (fold, seed, recipe, source file...);
            must be JSON-serialisable (other values are stored as strings).

    Returns:
        The path written.
    """
    if not isinstance(model, FaciesModel):
        raise TypeError(f"save_checkpoint expects a FaciesModel, got {type(model).__name__}; wrap the backbone with FaciesModel(...).")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    merged_meta = _jsonable({**model.meta, **(meta or {})})
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model_name": model.model_name,
        "builder": model.builder,
        "submission": merged_meta.get("submission"),
        "in_channels": model.in_channels,
        "n_classes": model.n_classes,
        "hparams": _jsonable(model.hparams),
        "features": list(model.features),
        "feature_min": None if model.normalised_input else model.feature_min.cpu().tolist(),
        "feature_max": None if model.normalised_input else model.feature_max.cpu().tolist(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.backbone.state_dict().items()},
        "meta": merged_meta,
        "package_version": _package_version(),
        "torch_version": str(torch.__version__),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def _import_target(target: str) -> Any:
    module_name, _, qualname = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _resolve_builder(ckpt: dict[str, Any], path: Path) -> Any:
    builder, name, submission = ckpt.get("builder"), ckpt.get("model_name"), ckpt.get("submission")
    errors = []
    if builder:
        try:
            return _import_target(builder)
        except (ImportError, AttributeError) as exc:
            errors.append(f"builder {builder!r} is not importable ({exc})")
    from facies_bench.models._registry import (
        get_model_entry,
        import_submission,
        list_models,
    )

    if name and name in list_models():
        return get_model_entry(name).target
    if submission and Path(submission).is_file():
        import_submission(submission)
        if name in list_models():
            return get_model_entry(name).target
        errors.append(f"submission {submission!r} does not register {name!r}")
    else:
        errors.append(f"model {name!r} is not registered" + (f" and its submission {submission!r} was not found" if submission else ""))
    msg = (f"Cannot rebuild the model of checkpoint {str(path)!r}: {'; '.join(errors)}. "
           "Import the submission that registers it (facies_bench.models.import_submission(FILE)) and load again.")
    raise CheckpointError(msg)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The raw checkpoint dict, validated (format, version, keys)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {str(path)!r}: the file does not exist.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch's own messages run to several lines of advice about weights_only; keep ours to one.
        msg = (f"{str(path)!r} is not a facies-bench checkpoint: torch cannot read it as a weights file "
               f"(torch.load failed: {type(exc).__name__}). Pass a checkpoint written by `facies-bench evaluate` or `import-keras`.")
        raise CheckpointError(msg) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        got = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        msg = f"{str(path)!r} is not a facies-bench checkpoint (format {got!r}, expected {FORMAT!r}). Checkpoints are written by save_checkpoint, `facies-bench evaluate` and `facies-bench import-keras`."
        raise CheckpointError(msg)
    if ckpt.get("version") != VERSION:
        msg = f"Checkpoint {str(path)!r} has version {ckpt.get('version')!r}; this facies-bench reads version {VERSION}."
        raise CheckpointError(msg)
    missing = [k for k in ("in_channels", "n_classes", "hparams", "features", "state_dict") if k not in ckpt]
    if missing:
        raise CheckpointError(f"Checkpoint {str(path)!r} lacks {', '.join(missing)}.")
    return ckpt


def load_model(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> FaciesModel:
    """Load a checkpoint written by this package as a :class:`FaciesModel` in eval mode.

    The model takes raw patches of its ``features`` (normalisation attached) and offers
    ``predict_proba(patches)``.

    Args:
        path: a checkpoint written by :func:`save_checkpoint` (``evaluate``'s fold models,
            ``import-keras``), or ``"published:fs4/fold0"``-style names of the authors' published
            models (fetched on first use, normalised with the published estimate; see
            :mod:`facies_bench.published`).
        device: where to put the model.

    Raises:
        CheckpointError: the file is missing, is not a checkpoint, or its model cannot be rebuilt.
    """
    if isinstance(path, str) and path.startswith("published:"):
        from facies_bench.published import load_published_model

        return load_published_model(path, device=device)
    path = Path(path)
    ckpt = read_checkpoint(path)
    target = _resolve_builder(ckpt, path)
    hparams = dict(ckpt.get("hparams") or {})
    try:
        backbone = target(int(ckpt["in_channels"]), int(ckpt["n_classes"]), **hparams)
        backbone.load_state_dict(ckpt["state_dict"], strict=True)
    except FaciesBenchError:
        raise
    except Exception as exc:
        msg = f"Checkpoint {str(path)!r}: rebuilding model {ckpt.get('model_name')!r} with hparams {hparams} failed: {type(exc).__name__}: {exc}"
        raise CheckpointError(msg) from exc
    model = FaciesModel(backbone, features=ckpt["features"], feature_min=ckpt.get("feature_min"), feature_max=ckpt.get("feature_max"),
                        model_name=ckpt.get("model_name"), hparams=hparams, builder=ckpt.get("builder"),
                        n_classes=int(ckpt["n_classes"]), meta=ckpt.get("meta") or {})
    return model.to(device).eval()
