"""Import the authors' published Keras weights (Keras 2 ``save_weights`` HDF5) into :class:`PaperCNN`.

Keras loads these files by position, and so does this module: the layers that have weights are
taken in the order of the root attribute ``layer_names`` (names change from file to file), and
the tensors of each layer in the order of its ``weight_names`` attribute.  The 15 weighted
layers are conv, bn (x6) then dense (x3).  Conversion: conv kernel (kh, kw, in, out) ->
``permute(3, 2, 0, 1)``; dense kernel (in, out) -> ``.T``; batch norm gamma, beta, moving mean,
moving variance -> weight, bias, running_mean, running_var.

The authors' min/max normalisation file is not published, so an imported model normalises with
statistics given explicitly: ``"published"`` (the estimate derived from the weights themselves),
a store or a small JSON; without them it takes its input as already normalised.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facies_bench import schema
from facies_bench.errors import ConversionError
from facies_bench.models.cnn_baseline import PaperCNN
from facies_bench.models.wrapper import FaciesModel

#: Registry name and builder recorded in imported checkpoints.
MODEL_NAME = "cnn_baseline"
BUILDER = "facies_bench.models.cnn_baseline:build_paper_cnn"
_LAYOUT = ("conv", "bn") * 6 + ("dense",) * 3
#: ``norm_stats`` value meaning the estimate of the authors' normalisation shipped with the package
#: (``resources/published_norm_stats.json``; see :mod:`facies_bench.published.norm_stats`).
PUBLISHED_NORM_STATS = "published"


def _decode(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def read_keras_weights(path: str | os.PathLike) -> list[tuple[str, list[np.ndarray]]]:
    """The weighted layers of a Keras 2 weights file, in Keras' loading order.

    Returns:
        ``[(layer_name, [tensor, ...]), ...]`` with tensors in ``weight_names`` order.

    Raises:
        ConversionError: the file is missing or not a Keras weights file.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"No Keras weights file at {str(path)!r}.")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ConversionError(f"{str(path)!r} is not an HDF5 file ({exc}); expected Keras 2 save_weights output (.h5).") from exc
    with handle as f:
        root = f["model_weights"] if "model_weights" in f else f  # whole-model files nest the weights
        if "layer_names" not in root.attrs:
            raise ConversionError(f"{str(path)!r} has no 'layer_names' attribute; it is not a Keras 2 weights file.")
        layers = []
        for name in _decode(root.attrs["layer_names"]):
            group = root[name]
            weight_names = _decode(group.attrs.get("weight_names", []))
            if weight_names:
                layers.append((name, [np.asarray(group[w], dtype=np.float32) for w in weight_names]))
    return layers


def _kind(tensors: list[np.ndarray]) -> str:
    if len(tensors) == 2 and tensors[0].ndim == 4:
        return "conv"
    if len(tensors) == 4 and all(t.ndim == 1 for t in tensors):
        return "bn"
    if len(tensors) == 2 and tensors[0].ndim == 2:
        return "dense"
    return "unknown(" + ", ".join(str(t.shape) for t in tensors) + ")"


def convert_keras_weights(layers: list[tuple[str, list[np.ndarray]]], *, source: str = "weights") -> PaperCNN:
    """Build a :class:`PaperCNN` holding the given Keras tensors exactly."""
    kinds = tuple(_kind(t) for _, t in layers)
    if kinds != _LAYOUT:
        msg = (f"{source}: weighted layers are {', '.join(f'{n}={k}' for (n, _), k in zip(layers, kinds, strict=False))}; "
               f"the paper's CNN has 15 weighted layers in the order {', '.join(_LAYOUT)}.")
        raise ConversionError(msg)
    kernel = layers[0][1][0]
    in_channels, filters = int(kernel.shape[2]), int(kernel.shape[3])
    hidden, n_classes = int(layers[12][1][0].shape[1]), int(layers[14][1][0].shape[1])
    model = PaperCNN(in_channels, n_classes, filters=filters, hidden=hidden)
    convs = [block[0] for block in (*model.scale1, *model.scale2)]
    bns = [block[1] for block in (*model.scale1, *model.scale2)]
    denses = [model.head[1], model.head[4], model.head[7]]
    with torch.no_grad():
        for i in range(6):
            (kname, (k, b)), (bname, (gamma, beta, mean, var)) = layers[2 * i], layers[2 * i + 1]
            _copy(convs[i].weight, torch.from_numpy(k).permute(3, 2, 0, 1), source, kname)
            _copy(convs[i].bias, torch.from_numpy(b), source, kname)
            for dest, value in ((bns[i].weight, gamma), (bns[i].bias, beta), (bns[i].running_mean, mean), (bns[i].running_var, var)):
                _copy(dest, torch.from_numpy(value), source, bname)
        for layer, (dname, (k, b)) in zip(denses, layers[12:], strict=False):
            if not isinstance(layer, torch.nn.Linear):
                raise TypeError(f"PaperCNN's head changed: expected a Linear layer, found {layer!r}.")
            _copy(layer.weight, torch.from_numpy(k).T, source, dname)
            _copy(layer.bias, torch.from_numpy(b), source, dname)
    return model.eval()


def _copy(dest: torch.Tensor, value: torch.Tensor, source: str, layer: str) -> None:
    if tuple(dest.shape) != tuple(value.shape):
        msg = f"{source}: layer {layer!r} has a tensor of shape {tuple(value.shape)} where the paper's CNN expects {tuple(dest.shape)}."
        raise ConversionError(msg)
    dest.copy_(value)


def read_published_norm_stats() -> dict[str, Any]:
    """The shipped estimate of the authors' normalisation, ``resources/published_norm_stats.json``, as a dict."""
    return json.loads(resources.files("facies_bench").joinpath("resources", "published_norm_stats.json").read_text())


def load_norm_stats(source: Any, features: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (min, max) for ``features`` from a store or a JSON file / dict.

    Args:
        source: ``"published"`` (the estimate of the authors' min/max derived from their weights),
            a :class:`~facies_bench.data.store.FaciesStore`, a store path, a ``.json`` path
            or a dict ``{"min": [...], "max": [...]}`` with one value per feature of
            ``features`` or per schema feature (11; then the needed ones are picked);
            an optional ``"features": [names]`` key names the values' features.
        features: the model's feature names.

    Raises:
        ConversionError: the JSON is malformed or does not cover ``features``.
    """
    features = tuple(features)
    if isinstance(source, str) and source == PUBLISHED_NORM_STATS:
        data = read_published_norm_stats()
        return load_norm_stats({k: data[k] for k in ("features", "min", "max")}, features)
    if hasattr(source, "feature_indices") and hasattr(source, "feature_min"):
        idx = source.feature_indices(features)
        return source.feature_min[idx], source.feature_max[idx]
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            from facies_bench.data.store import open_store

            return load_norm_stats(open_store(path), features)
        if not path.is_file():
            raise ConversionError(f"Normalisation statistics {str(path)!r} not found; pass a facies store or a JSON file {{\"min\": [...], \"max\": [...]}}.")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConversionError(f"Normalisation statistics {str(path)!r} are not valid JSON ({exc}).") from exc
        return load_norm_stats(data, features)
    if not isinstance(source, dict) or "min" not in source or "max" not in source:
        raise ConversionError(f"Normalisation statistics must be a dict with 'min' and 'max' lists; got {type(source).__name__} with keys {sorted(source) if isinstance(source, dict) else '-'}.")
    lo, hi = np.asarray(source["min"], np.float32).reshape(-1), np.asarray(source["max"], np.float32).reshape(-1)
    names = tuple(source.get("features") or (features if len(lo) == len(features) else schema.FEATURE_NAMES))
    if len(lo) != len(names) or len(hi) != len(names):
        msg = (f"Normalisation statistics have {len(lo)} minima and {len(hi)} maxima; expected one per feature "
               f"({len(features)} for {', '.join(features)}, or {schema.N_FEATURES} for all features).")
        raise ConversionError(msg)
    missing = [f for f in features if f not in names]
    if missing:
        raise ConversionError(f"Normalisation statistics lack feature(s) {', '.join(missing)}; they cover {', '.join(names)}.")
    idx = [names.index(f) for f in features]
    return lo[idx], hi[idx]


def import_keras_weights(path: str | os.PathLike, *, features: int | str | Sequence[str] | None = None,
                         norm_stats: Any = None) -> FaciesModel:
    """Convert the authors' Keras weights into a :class:`FaciesModel` around :class:`PaperCNN`.

    Args:
        path: a Keras 2 weights file (``fs4/fold0_after.h5``...).
        features: feature set (1-4) or names; defaults to the paper's feature set with the
            file's channel count (6, 8, 10, 11 -> 1, 2, 3, 4).
        norm_stats: normalisation statistics (see :func:`load_norm_stats`); ``None`` means the
            model takes already-normalised input.

    Raises:
        ConversionError: the file is not the paper's CNN, or ``features`` / ``norm_stats``
            disagree with its channel count.
    """
    path = Path(path)
    layers = read_keras_weights(path)
    backbone = convert_keras_weights(layers, source=str(path))
    c = backbone.in_channels
    if features is None:
        matches = [fs for fs, names in schema.FEATURE_SETS.items() if len(names) == c]
        if not matches:
            raise ConversionError(f"{str(path)!r} has {c} input channels; no paper feature set has {c}. Pass features explicitly.")
        names = schema.FEATURE_SETS[matches[0]]
    else:
        names = schema.resolve_features(features)
        if len(names) != c:
            msg = f"{str(path)!r} has {c} input channels but features {features!r} give {len(names)} ({', '.join(names)})."
            raise ConversionError(msg)
    lo = hi = None
    if norm_stats is not None:
        lo, hi = load_norm_stats(norm_stats, names)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    meta = {"source": "keras", "keras_file": path.name, "keras_sha256": digest,
            "normalisation": "identity" if norm_stats is None else str(getattr(norm_stats, "path", norm_stats) if not isinstance(norm_stats, dict) else "dict")}
    return FaciesModel(backbone, features=names, feature_min=lo, feature_max=hi, model_name=MODEL_NAME,
                       hparams={"filters": backbone.filters, "hidden": backbone.hidden},
                       builder=BUILDER, n_classes=backbone.n_classes, meta=meta).eval()
