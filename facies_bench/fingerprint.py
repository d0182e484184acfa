"""How closely data resemble the data a trained network saw: the published models as an instrument.

A network's batch-norm layers remember the mean and variance of their inputs over its training
data.  Passing other data through the network and comparing each batch-norm layer's input
statistics with those running statistics measures, layer by layer, how far the new data sit from
the training data, in units of the running standard deviation (0 = indistinguishable).  With the
authors' published models this compares any store — the embedded simulator included — with the
real pan-European dataset they were trained on.  The first layer also gives, through
:func:`~facies_bench.published.moments.fit_input_means`, the real data's mean of every normalised
input channel, to set beside the new data's.

The instrument only reads: nothing here changes data or models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from facies_bench import schema
from facies_bench.models.wrapper import FaciesModel
from facies_bench.published.moments import first_layer_of, fit_input_means


@dataclass
class LayerStats:
    """One batch-norm layer: the data's input statistics against the running ones."""

    layer: int  #: 1-6, in network order
    mean_offset_sd: float  #: mean over channels of |E_data - running mean| / running std
    std_ratio: float  #: mean over channels of data std / running std (both with the layer's epsilon)


@dataclass
class ModelFingerprint:
    """One model's view of the data."""

    name: str
    implied_means: dict[str, float]  #: real data's normalised channel means (first-layer fit)
    fit_r2: float
    first_layer_mismatch: float  #: |data mean - implied mean|, averaged over channels
    layers: list[LayerStats] = field(default_factory=list)
    accuracy: float | None = None  #: against ``labels`` when given
    macro_f1: float | None = None
    class_f1: dict[str, float] | None = None  #: F1 of each class present in ``labels``
    group_accuracy: dict[str, float] | None = None  #: accuracy within each group (region, sensor...) when given

    @property
    def deeper_offset_sd(self) -> float:
        """Mean offset of layers 2-6, in running standard deviations."""
        return float(np.mean([s.mean_offset_sd for s in self.layers[1:]])) if len(self.layers) > 1 else float("nan")


@dataclass
class Fingerprint:
    """The data's normalised channel means and every model's fingerprint of them."""

    features: tuple[str, ...]
    data_means: dict[str, float]
    n_patches: int
    normalisation: str
    models: list[ModelFingerprint]
    group_sizes: dict[str, int] | None = None  #: patches per group, when grouped

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the fingerprint and every model's."""
        out = asdict(self)
        out["features"] = list(self.features)
        for m, mf in zip(out["models"], self.models, strict=True):
            m["deeper_offset_sd"] = mf.deeper_offset_sd
        return out


def batchnorm_input_stats(model: nn.Module, patches: np.ndarray, *, batch_size: int = 256) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per batch-norm layer, the (channels,) mean and variance of its input over ``patches``.

    Args:
        model: a :class:`~facies_bench.models.wrapper.FaciesModel` (raw patches in).
        patches: (N, C, H, W) raw patches of the model's features.
        batch_size: patches per forward pass.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    sums: list[list[torch.Tensor]] = [[] for _ in bns]

    def hook(i):
        def record(_module, inputs, _output):
            x = inputs[0].double()
            sums[i].append(torch.stack([x.sum(dim=(0, 2, 3)), (x * x).sum(dim=(0, 2, 3)),
                                        torch.full_like(x[0, :, 0, 0], x.shape[0] * x.shape[2] * x.shape[3])]))
        return record

    handles = [bn.register_forward_hook(hook(i)) for i, bn in enumerate(bns)]
    try:
        model.eval()
        with torch.no_grad():
            for start in range(0, len(patches), batch_size):
                model(torch.from_numpy(np.ascontiguousarray(patches[start:start + batch_size], dtype=np.float32)))
    finally:
        for h in handles:
            h.remove()
    out = []
    for parts in sums:
        s, ss, n = torch.stack(parts).sum(dim=0)
        mean = s / n
        out.append(((mean).numpy(), (ss / n - mean * mean).clamp_min(0).numpy()))
    return out


def _running_stats(bn: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """Running mean and variance (float64) of a batch norm layer."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("The model has a batch norm layer without running statistics (track_running_stats=False).")
    return bn.running_mean.double().numpy(), bn.running_var.double().numpy()


def fingerprint_model(model: FaciesModel, patches: np.ndarray, *, name: str, data_means: np.ndarray,
                      labels: np.ndarray | None = None, groups: np.ndarray | None = None) -> ModelFingerprint:
    """One model's fingerprint of ``patches`` (raw, the model's features); ``groups`` (N,) names a group per patch."""
    fit = fit_input_means(first_layer_of(model))
    features = tuple(model.features)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    layers = []
    for i, ((mean, var), bn) in enumerate(zip(batchnorm_input_stats(model, patches), bns, strict=False), start=1):
        running_mean, running_var = _running_stats(bn)
        run_sd = np.sqrt(running_var + bn.eps)  # what the layer divides by
        layers.append(LayerStats(layer=i, mean_offset_sd=float(np.mean(np.abs(mean - running_mean) / run_sd)),
                                 std_ratio=float(np.mean(np.sqrt(var + bn.eps) / run_sd))))
    result = ModelFingerprint(name=name, implied_means=dict(zip(features, map(float, fit.means), strict=True)), fit_r2=fit.r2,
                              first_layer_mismatch=float(np.mean(np.abs(data_means[:len(features)] - fit.means))), layers=layers)
    if labels is not None:
        from sklearn.metrics import accuracy_score, f1_score

        pred = model.predict_proba(patches).argmax(axis=1)
        present = np.unique(labels)
        result.accuracy = float(accuracy_score(labels, pred))
        per_class = f1_score(labels, pred, average=None, labels=present, zero_division=0)
        result.macro_f1 = float(np.mean(per_class))
        result.class_f1 = {schema.CLASS_NAMES[int(c)]: float(f) for c, f in zip(present, per_class, strict=True)}
        if groups is not None:
            result.group_accuracy = {str(g): float(accuracy_score(labels[groups == g], pred[groups == g]))
                                     for g in np.unique(groups)}
    return result


def normalised_channel_means(patches: np.ndarray, feature_min: np.ndarray, feature_max: np.ndarray) -> np.ndarray:
    """(C,) mean of each channel of raw (N, C, H, W) patches after min-max normalisation."""
    lo, hi = np.asarray(feature_min, np.float64), np.asarray(feature_max, np.float64)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (np.nanmean(patches, axis=(0, 2, 3), dtype=np.float64) - lo) / span


def fingerprint(patches: np.ndarray, models: Sequence[tuple[str, FaciesModel]], *, labels: np.ndarray | None = None,
                groups: np.ndarray | None = None, feature_min: np.ndarray | None = None, feature_max: np.ndarray | None = None,
                normalisation: str = "published") -> Fingerprint:
    """Fingerprint raw 11-feature ``patches`` with every model.

    Args:
        patches: (N, 11, H, W) raw patches, all features in schema order.
        models: (name, FaciesModel) pairs; each sees its own features, normalised its own way.
        labels: (N,) true class codes, to report each model's accuracy, macro-F1 and per-class F1 too.
        groups: (N,) a group name per patch (its region, sensor...), to report accuracy per group
            (needs ``labels``).
        feature_min: (11,) minima normalising the data's channel means (default: the published
            estimate).
        feature_max: (11,) maxima, likewise.
        normalisation: a label for the report.
    """
    if patches.ndim != 4 or patches.shape[1] != schema.N_FEATURES:
        raise ValueError(f"patches must be (N, {schema.N_FEATURES}, H, W) raw patches of every feature; got {patches.shape}.")
    if groups is not None:
        groups = np.asarray(groups)
        if labels is None or len(groups) != len(patches):
            raise ValueError(f"groups needs labels and one name per patch; got {len(groups)} names for {len(patches)} patches"
                             f"{'' if labels is not None else ' and no labels'}.")
    if feature_min is None or feature_max is None:
        from facies_bench.published import published_norm_stats

        feature_min, feature_max = published_norm_stats().for_features(schema.FEATURE_NAMES)
    means = normalised_channel_means(patches, feature_min, feature_max)
    out = []
    for name, model in models:
        idx = [schema.FEATURE_NAMES.index(f) for f in model.features]
        out.append(fingerprint_model(model, patches[:, idx], name=name, data_means=means[idx], labels=labels, groups=groups))
    sizes = None if groups is None else {str(g): int(n) for g, n in zip(*np.unique(groups, return_counts=True), strict=True)}
    return Fingerprint(features=schema.FEATURE_NAMES, data_means=dict(zip(schema.FEATURE_NAMES, map(float, means), strict=True)),
                       n_patches=int(len(patches)), normalisation=normalisation, models=out, group_sizes=sizes)


def sample_store_rows(store: Any, *, n_patches: int = 2048, seed: int = 0, folds: Sequence[int] | None = None) -> np.ndarray:
    """Sorted rows of a reproducible random sample of a store's labelled points (of ``folds`` only, if given)."""
    rows = np.arange(store.n_samples)
    if folds is not None:
        rows = rows[np.isin(store.column("fold"), list(folds))]
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=min(n_patches, len(rows)), replace=False))


def labelled_patches(store: Any, rows: np.ndarray, *, label_variant: str = "true") -> tuple[np.ndarray, np.ndarray]:
    """A store's raw patches at ``rows`` and their labels.

    ``label_variant="true"`` uses the simulator's noise-free labels when the store has them and
    falls back to ``raw`` otherwise.
    """
    truth = store.true_labels() if label_variant == "true" else None
    labels = truth if truth is not None else store.labels("raw" if label_variant == "true" else label_variant)
    return store.read_patches(rows), np.asarray(labels)[rows]


def sample_scene_patches(store: Any, scene_ids: Sequence[str], *, n_patches: int = 2048,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Patches around random glacier pixels of whole store scenes (not only the labelled points).

    Patches are cut from each scene's feature rasters as the store's own patches are (mirrored
    beyond the scene edge), ``n_patches`` in all, shared evenly between the scenes.  Labels are the
    scenes' true facies maps when the store has them (synthetic stores), else None.
    """
    from facies_bench.synth.labels import cut_patches

    rng = np.random.default_rng(seed)
    per_scene = max(1, n_patches // max(len(scene_ids), 1))
    patches, labels = [], []
    for scene_id in scene_ids:
        scene = store.scene(scene_id)
        rows, cols = np.nonzero(scene.outline)
        pick = rng.choice(len(rows), size=min(per_scene, len(rows)), replace=False)
        patches.append(cut_patches(scene.features, rows[pick], cols[pick]))
        labels.append(None if scene.true_facies is None else np.asarray(scene.true_facies)[rows[pick], cols[pick]])
    known = [lab for lab in labels if lab is not None]
    truth = np.concatenate(known).astype(np.int64) if len(known) == len(labels) else None
    return np.concatenate(patches), truth
