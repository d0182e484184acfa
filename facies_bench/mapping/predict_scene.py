"""Whole-scene facies maps: tiled inference, ensembling, calibration and post-processing.

:func:`map_scene` walks the scene in square tiles.  Each tile reads its input window (the tile
plus a halo of :data:`~facies_bench.mapping.dense.DENSE_HALO` px, padded past the scene edges
like the store's patches) once, runs every model on the tile's glacier pixels, averages the
models' softmax probabilities, recomputes per patch the close calls (robust margin below
:data:`DEFAULT_REFINE_MARGIN`, where the dense result can differ from per-patch inference) and
writes the tile's classes and confidence.  The stages are :func:`plan_scene` (checks, the
configuration), :func:`_map_tiles` (inference) and :func:`_post_process` (smoothing, islands,
calibration).

Memory is bounded by the tile, not the scene: one input window, the activations of one tile (64
channels at ``(tile + 2 * halo)^2`` pixels, a few copies), one batch of exact patches, and the
output rasters (uint8 classes, float32 confidence; probabilities only on request).

Pixels outside the outline, and glacier pixels where any input feature is nodata (NaN), get
:data:`~facies_bench.mapping.io.NODATA_CLASS` and NaN confidence: the mapper never invents a class
where the input is missing.  (Nodata inside a neighbour's patch is filled with the feature
minimum, i.e. 0 after normalisation.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
import torch
from scipy import ndimage

from facies_bench import schema
from facies_bench.errors import InvalidValueError, RasterError
from facies_bench.mapping.dense import DENSE_HALO, dense_logits, supports_dense
from facies_bench.mapping.exact import gather_patches, read_window
from facies_bench.mapping.io import NODATA_CLASS, Band

log = logging.getLogger(__name__)

MODES = ("dense", "exact")
#: Default tile side (output pixels); a 512 tile with its halo keeps the activations near 0.3 GB.
DEFAULT_TILE = 512
#: Default close-call threshold of the dense mode: pixels whose :func:`robust_margin` is below it
#: are recomputed per patch (see :mod:`facies_bench.mapping.dense` for the measured agreement).
DEFAULT_REFINE_MARGIN = 0.12


@dataclass
class SceneMap:
    """A mapped scene.

    Attributes:
        classes: (H, W) uint8 class codes in ``schema.CLASSES`` order; ``NODATA_CLASS`` (255)
            outside the outlines and where the input had nodata.
        confidence: (H, W) float32 max-softmax probability of the (ensemble) prediction, calibrated
            when a calibrator was given; NaN where ``classes`` is nodata.  Post-processing changes
            classes, not confidence.
        probabilities: (K, H, W) float32 ensemble probabilities (NaN at nodata) when requested.
        modes: the inference mode used for each model (``dense`` or ``exact``).
        calibrated: whether ``confidence`` is calibrated.
        n_glacier_px: pixels inside the outlines.
        n_nodata_px: glacier pixels left as nodata because an input feature was missing.
        n_refined_px: pixels recomputed in exact mode because their dense margin was small.
        seconds: wall time of the inference.
    """

    classes: np.ndarray
    confidence: np.ndarray
    probabilities: np.ndarray | None = None
    modes: list[str] = field(default_factory=list)
    calibrated: bool = False
    n_glacier_px: int = 0
    n_nodata_px: int = 0
    n_refined_px: int = 0
    seconds: float = 0.0

    @property
    def pixels_per_second(self) -> float:
        """Glacier pixels mapped per second (NaN without a timing)."""
        return self.n_glacier_px / self.seconds if self.seconds > 0 else float("nan")


def _as_bands(features: np.ndarray | Mapping[str, Band], feature_names: Sequence[str] | None) -> dict[str, Band]:
    if isinstance(features, Mapping):
        return {schema.FEATURE_NAMES[schema.feature_index(k)]: v for k, v in features.items()}
    if features.ndim != 3:
        raise RasterError(f"features must be (C, H, W) or a {{name: (H, W)}} mapping; got shape {features.shape}.")
    if feature_names is None:
        if features.shape[0] != schema.N_FEATURES:
            msg = (f"features have {features.shape[0]} channels; pass feature_names for them, or give all "
                   f"{schema.N_FEATURES} features in the order {', '.join(schema.FEATURE_NAMES)}.")
            raise RasterError(msg)
        feature_names = schema.FEATURE_NAMES
    if len(feature_names) != features.shape[0]:
        raise RasterError(f"{len(feature_names)} feature names for {features.shape[0]} channels.")
    return {schema.FEATURE_NAMES[schema.feature_index(n)]: features[i] for i, n in enumerate(feature_names)}


def _calibrate(confidence: np.ndarray, calibrator: Any) -> np.ndarray:
    """Calibrated confidence; several calibrators (a dict or list) are averaged."""
    cals = list(calibrator.values()) if isinstance(calibrator, Mapping) else (
        list(calibrator) if isinstance(calibrator, (list, tuple)) else [calibrator])
    out = np.zeros(confidence.shape, np.float64)
    for cal in cals:
        out += np.asarray(cal.predict(confidence), dtype=np.float64).reshape(confidence.shape)
    return np.clip(out / len(cals), 0.0, 1.0).astype(np.float32)


@overload
def _model_logits(model: Any, window_raw: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, mode: str,
                  batch_size: int, with_inner: Literal[False] = False) -> torch.Tensor: ...
@overload
def _model_logits(model: Any, window_raw: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, mode: str,
                  batch_size: int, with_inner: Literal[True]) -> tuple[torch.Tensor, torch.Tensor]: ...
def _model_logits(model: Any, window_raw: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, mode: str,
                  batch_size: int, with_inner: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """(N, K) logits of one FaciesModel for window pixels (the window holds the model's channels).

    With ``with_inner`` a second (N, K) tensor: in dense mode the logits with ``g`` set to its
    inner-cell lower bound (:func:`~facies_bench.mapping.dense.dense_logits`), otherwise the
    same logits again.
    """
    x = torch.from_numpy(window_raw).unsqueeze(0)
    x = torch.nan_to_num(model.normalize(x)[0], nan=0.0)  # nodata -> feature minimum
    if mode == "dense":
        return dense_logits(model.backbone, x, rows, cols, with_inner=with_inner)
    window = x.numpy()
    out = []
    for start in range(0, rows.size, batch_size):
        patches = gather_patches(window, rows[start:start + batch_size], cols[start:start + batch_size])
        # the model's inference path: batch norm folded, channels-last, cache-sized chunks
        out += list(model.iter_logits(patches, batch_size=batch_size, normalised=True))
    logits = torch.cat(out) if out else torch.empty((0, model.n_classes))
    return (logits, logits) if with_inner else logits


@overload
def _ensemble_proba(models: Sequence[Any], modes: Sequence[str], channels: Sequence[list[int]], window: np.ndarray,
                    rows: np.ndarray, cols: np.ndarray, *, batch_size: int,
                    with_inner: Literal[False] = False) -> np.ndarray: ...
@overload
def _ensemble_proba(models: Sequence[Any], modes: Sequence[str], channels: Sequence[list[int]], window: np.ndarray,
                    rows: np.ndarray, cols: np.ndarray, *, batch_size: int,
                    with_inner: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...
def _ensemble_proba(models: Sequence[Any], modes: Sequence[str], channels: Sequence[list[int]], window: np.ndarray,
                    rows: np.ndarray, cols: np.ndarray, *, batch_size: int,
                    with_inner: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """(N, K) mean softmax probabilities of the models for window pixels (and the inner-g ones)."""
    total = torch.zeros((rows.size, models[0].n_classes), dtype=torch.float32)
    total_inner = torch.zeros_like(total)
    for m, mode, ch in zip(models, modes, channels, strict=True):
        if with_inner:
            logits, inner = _model_logits(m, window[ch], rows, cols, mode=mode, batch_size=batch_size, with_inner=True)
            total += torch.softmax(logits, dim=1)
            total_inner += torch.softmax(inner, dim=1)
        else:
            total += torch.softmax(_model_logits(m, window[ch], rows, cols, mode=mode, batch_size=batch_size), dim=1)
    if with_inner:
        return (total / len(models)).numpy(), (total_inner / len(models)).numpy()
    return (total / len(models)).numpy()


def robust_margin(probs: np.ndarray, probs_inner: np.ndarray) -> np.ndarray:
    """(N,) how safely the dense decision stands, for choosing pixels to recompute exactly.

    The smaller of two margins of the dense top class ``k``: ``p_k - max_{j != k} p_j`` under the
    dense probabilities, and the same difference (negative when another class wins) under the
    probabilities with ``g`` at its inner-cell lower bound.  A pixel whose decision holds at both
    ends of that range, with room to spare, rarely changes class in exact mode; the benchmark
    measures how rarely (it is a ranking heuristic, not a bound: the per-patch ``g`` can also lie
    above the dense one).

    Args:
        probs: (N, K) dense probabilities.
        probs_inner: (N, K) probabilities with the inner-cell ``g``.
    """
    top = probs.argmax(axis=1)
    rows = np.arange(probs.shape[0])

    def margin(p: np.ndarray) -> np.ndarray:
        others = p.copy()
        others[rows, top] = -np.inf
        return p[rows, top] - others.max(axis=1)

    return np.minimum(margin(probs), margin(probs_inner))


def resolve_modes(models: Sequence[Any], mode: str) -> list[str]:
    """The mode each model runs in: ``dense`` falls back to ``exact`` for non-PaperCNN backbones."""
    if mode not in MODES:
        raise InvalidValueError(f"Unknown mapping mode {mode!r}. Valid: {', '.join(MODES)}.")
    modes = []
    for m in models:
        if mode == "dense" and not supports_dense(m.backbone):
            log.warning("Model %s (%s) has no dense form; mapping it in exact per-patch mode (slower).",
                        m.model_name or type(m.backbone).__name__, type(m.backbone).__name__)
            modes.append("exact")
        else:
            modes.append(mode)
    return modes


@dataclass
class ScenePlan:
    """What :func:`map_scene` checked and derived before mapping (the configuration stage).

    Attributes:
        models: the models, in eval mode.
        modes: the inference mode of each model (see :func:`resolve_modes`).
        bands: ``{feature name: (H, W) raster}`` of the scene.
        needed: the features any model uses, in ``schema.FEATURE_NAMES`` order (window channels).
        channels: each model's channel indices into ``needed``.
        mask: (H, W) glacier mask.
        refine_margin: close-call threshold of the hybrid (0 = pure dense), see :func:`map_scene`.
        padding: how the scene is padded past its edges.
        batch_size: patches per forward pass in exact mode.
    """

    models: list[Any]
    modes: list[str]
    bands: dict[str, Band]
    needed: tuple[str, ...]
    channels: list[list[int]]
    mask: np.ndarray
    refine_margin: float = 0.0
    padding: str = "reflect"
    batch_size: int = 1024

    @property
    def pad(self) -> int:
        """Input pixels a tile needs beyond its output pixels, each side."""
        return max(DENSE_HALO, schema.PATCH_SIZE // 2)

    @property
    def refines(self) -> bool:
        """Whether close calls are recomputed in exact mode (some model runs dense, margin > 0)."""
        return bool(self.refine_margin) and "dense" in self.modes


def plan_scene(models: Any | Sequence[Any], features: np.ndarray | Mapping[str, Band], outline: np.ndarray, *,
               feature_names: Sequence[str] | None = None, mode: str = "dense",
               refine_margin: float | None = DEFAULT_REFINE_MARGIN, padding: str = "reflect",
               batch_size: int = 1024) -> ScenePlan:
    """Check a scene against its models and fix how it is mapped (arguments as :func:`map_scene`).

    Raises:
        RasterError: a model needs a feature the scene lacks, shapes disagree, or the outline is empty.
        InvalidValueError: an unknown mode or a negative ``refine_margin``.
    """
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    if not models:
        raise ValueError("map_scene needs at least one model.")
    if refine_margin is not None and not refine_margin >= 0:
        raise InvalidValueError(f"refine_margin must be >= 0 (0 = pure dense); got {refine_margin}.")
    bands = _as_bands(features, feature_names)
    for m in models:
        missing = [f for f in m.features if f not in bands]
        if missing:
            msg = (f"Model {m.model_name or type(m.backbone).__name__} needs feature(s) {', '.join(missing)} "
                   f"(its feature set: {', '.join(m.features)}); the scene supplies {', '.join(bands) or 'none'}.")
            raise RasterError(msg)
    needed = tuple(f for f in schema.FEATURE_NAMES if any(f in m.features for m in models))
    mask = np.asarray(outline) != 0
    for name in needed:
        if tuple(bands[name].shape) != mask.shape:
            raise RasterError(f"Feature {name!r} has shape {tuple(bands[name].shape)}; the outline is {mask.shape}.")
    if not mask.any():
        raise RasterError("The outline mask has no glacier pixel; nothing to map.")
    for m in models:
        m.eval()
    return ScenePlan(models=models, modes=resolve_modes(models, mode), bands=bands, needed=needed,
                     channels=[[needed.index(f) for f in m.features] for m in models], mask=mask,
                     refine_margin=float(refine_margin or 0.0), padding=padding, batch_size=int(batch_size))


def _tile_probabilities(plan: ScenePlan, window: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, int]:
    """(N, K) ensemble probabilities of window pixels, close calls recomputed exactly; and how many were."""
    if not plan.refines:
        return _ensemble_proba(plan.models, plan.modes, plan.channels, window, rows, cols,
                               batch_size=plan.batch_size), 0
    probs, probs_inner = _ensemble_proba(plan.models, plan.modes, plan.channels, window, rows, cols,
                                         batch_size=plan.batch_size, with_inner=True)
    unsure = np.flatnonzero(robust_margin(probs, probs_inner) < plan.refine_margin)
    if unsure.size:
        probs[unsure] = _ensemble_proba(plan.models, ["exact"] * len(plan.models), plan.channels, window, rows[unsure],
                                        cols[unsure], batch_size=plan.batch_size)
    return probs, int(unsure.size)


def _map_tiles(plan: ScenePlan, out: SceneMap, *, tile: int, progress: Callable[[int, int], None] | None) -> None:
    """Fill ``out``'s classes, confidence (and probabilities) tile by tile, and count nodata / refined pixels."""
    height, width = plan.mask.shape
    pad = plan.pad
    starts = [(r, c) for r in range(0, height, tile) for c in range(0, width, tile)]
    with torch.inference_mode():
        for done, (r0, c0) in enumerate(starts, 1):
            r1, c1 = min(r0 + tile, height), min(c0 + tile, width)
            iy, ix = np.nonzero(plan.mask[r0:r1, c0:c1])
            if iy.size:
                window = read_window(plan.bands, plan.needed, (r0, r1), (c0, c1), pad=pad, padding=plan.padding)
                valid = np.isfinite(window[:, iy + pad, ix + pad]).all(axis=0)
                out.n_nodata_px += int((~valid).sum())
                iy, ix = iy[valid], ix[valid]
            if iy.size:
                probs, n_refined = _tile_probabilities(plan, window, iy + pad, ix + pad)
                out.n_refined_px += n_refined
                out.classes[r0 + iy, c0 + ix] = probs.argmax(axis=1).astype(np.uint8)
                out.confidence[r0 + iy, c0 + ix] = probs.max(axis=1)
                if out.probabilities is not None:
                    out.probabilities[:, r0 + iy, c0 + ix] = probs.T
            if progress is not None:
                progress(done, len(starts))


def _post_process(out: SceneMap, *, smoothing: int | None, min_island_px: int | None, calibrator: Any) -> None:
    """Smooth the classes, remove small islands and calibrate the confidence, in place."""
    if out.n_nodata_px:
        log.warning("%d glacier pixel(s) have nodata in at least one input feature; they are nodata in the map.",
                    out.n_nodata_px)
    if smoothing:
        out.classes = smooth_classes(out.classes, window=smoothing)
    if min_island_px:
        out.classes = remove_islands(out.classes, min_size=min_island_px)
    if calibrator is not None:
        known = np.isfinite(out.confidence)
        out.confidence[known] = _calibrate(out.confidence[known], calibrator)
        out.calibrated = True


def map_scene(models: Any | Sequence[Any], features: np.ndarray | Mapping[str, Band], outline: np.ndarray, *,
              feature_names: Sequence[str] | None = None, mode: str = "dense", calibrator: Any = None,
              tile: int = DEFAULT_TILE, padding: str = "reflect", refine_margin: float | None = DEFAULT_REFINE_MARGIN,
              smoothing: int | None = None, min_island_px: int | None = None, return_probabilities: bool = False,
              batch_size: int = 1024, progress: Callable[[int, int], None] | None = None) -> SceneMap:
    """Map every glacier pixel of a scene.

    Args:
        models: one :class:`~facies_bench.models.FaciesModel` or several (e.g. the fold models),
            in eval mode; several are ensembled by averaging their softmax probabilities.
        features: raw features, (C, H, W) (all 11 in ``schema.FEATURE_NAMES`` order unless
            ``feature_names`` says otherwise) or ``{name: (H, W)}``; anything sliceable works
            (numpy memmaps, zarr arrays).  Nodata is NaN.
        outline: (H, W) glacier mask (bool) or glacier ids (0 outside).
        feature_names: names of the channels of an array ``features``.
        mode: ``"dense"`` (fully convolutional, for PaperCNN backbones; others fall back to exact
            with a warning) or ``"exact"`` (per-patch, batched).
        calibrator: an object with ``predict(confidence) -> calibrated`` (e.g.
            :class:`~facies_bench.evaluation.calibration.Calibrator`), or a dict / list of them,
            whose predictions are averaged.
        tile: output tile side in pixels.
        padding: how the scene is padded past its edges, as the store cut its patches
            (``"reflect"`` or ``"constant"``).
        refine_margin: in dense mode, pixels whose :func:`robust_margin` is below this are
            recomputed in exact mode (the dense ``g`` can flip close calls).  The default,
            :data:`DEFAULT_REFINE_MARGIN`, agrees with per-patch inference on >= 99 % of glacier
            pixels (see :mod:`facies_bench.mapping.dense`); None or 0 = pure dense.
        smoothing: odd window side of a majority (mode) filter applied to the classes; None = off.
        min_island_px: facies islands (8-connected) smaller than this are given the class of the
            nearest pixel outside them; None = off.
        return_probabilities: also return the (K, H, W) ensemble probabilities.
        batch_size: patches per forward pass in exact mode.
        progress: called with ``(tiles done, tiles total)`` after each tile.

    Returns:
        A :class:`SceneMap`.

    Raises:
        RasterError: a model needs a feature the scene lacks, shapes disagree, or the outline is empty.
    """
    plan = plan_scene(models, features, outline, feature_names=feature_names, mode=mode, refine_margin=refine_margin,
                      padding=padding, batch_size=batch_size)
    height, width = plan.mask.shape
    n_classes = plan.models[0].n_classes
    out = SceneMap(classes=np.full((height, width), NODATA_CLASS, np.uint8),
                   confidence=np.full((height, width), np.nan, np.float32),
                   probabilities=np.full((n_classes, height, width), np.nan, np.float32) if return_probabilities else None,
                   modes=plan.modes, n_glacier_px=int(plan.mask.sum()))
    started = time.perf_counter()
    _map_tiles(plan, out, tile=int(tile), progress=progress)
    out.seconds = time.perf_counter() - started
    _post_process(out, smoothing=smoothing, min_island_px=min_island_px, calibrator=calibrator)
    return out


# --------------------------------------------------------------------------------------------
# Post-processing
# --------------------------------------------------------------------------------------------


def smooth_classes(classes: np.ndarray, *, window: int = 3, n_classes: int = schema.N_CLASSES) -> np.ndarray:
    """Majority (mode) filter over a ``window`` x ``window`` neighbourhood.

    Only mapped pixels vote and only mapped pixels change; nodata stays nodata.  A tie keeps the
    pixel's own class when it is among the most frequent, else the lowest class code wins.

    Args:
        classes: (H, W) uint8 class codes, ``NODATA_CLASS`` where unmapped.
        window: odd window side (3 = the 3 x 3 filter).
        n_classes: K.
    """
    window = int(window)
    if window < 1 or window % 2 == 0:
        raise InvalidValueError(f"Smoothing window must be an odd number of pixels >= 1; got {window}.")
    if window == 1:
        return classes.copy()
    mapped = classes != NODATA_CLASS
    best = np.full(classes.shape, -1.0, np.float32)
    out = classes.copy()
    own_bonus = np.float32(0.5 / window**2)  # breaks ties in favour of the pixel's own class
    for k in range(n_classes):
        votes = ndimage.uniform_filter((classes == k).astype(np.float32), size=window, mode="constant")
        votes[classes == k] += own_bonus
        better = votes > best
        best[better] = votes[better]
        out[better & mapped] = k
    return out


def remove_islands(classes: np.ndarray, *, min_size: int, n_classes: int = schema.N_CLASSES) -> np.ndarray:
    """Give facies islands smaller than ``min_size`` pixels the class of the nearest other pixel.

    Islands are 8-connected regions of one class (``scipy.ndimage.label``); each pixel of a small
    island takes the class of the nearest mapped pixel that is not in a small island.  Nodata
    stays nodata.
    """
    min_size = int(min_size)
    if min_size <= 1:
        return classes.copy()
    mapped = classes != NODATA_CLASS
    small = np.zeros(classes.shape, bool)
    structure = np.ones((3, 3), bool)
    for k in range(n_classes):
        labels, n = ndimage.label(classes == k, structure=structure)
        if n == 0:
            continue
        sizes = np.bincount(labels.ravel())
        tiny = sizes < min_size
        tiny[0] = False
        small |= tiny[labels]
    keep = mapped & ~small
    if not small.any() or not keep.any():
        return classes.copy()
    idx = ndimage.distance_transform_edt(~keep, return_distances=False, return_indices=True)
    out = classes.copy()
    out[small] = classes[idx[0][small], idx[1][small]]
    return out


# --------------------------------------------------------------------------------------------
# Scoring against a true map
# --------------------------------------------------------------------------------------------


def score_scene_map(classes: np.ndarray, true_facies: np.ndarray, outline: np.ndarray) -> dict[str, Any]:
    """Pixel accuracy, macro-F1 and per-class F1 of a map against a dense true facies map.

    Args:
        classes: (H, W) predicted codes (``NODATA_CLASS`` unmapped).
        true_facies: (H, W) true codes (negative = unknown).
        outline: (H, W) glacier mask; only mapped glacier pixels with a known truth are scored.

    Returns:
        ``{"pixel_accuracy", "macro_f1", "per_class_f1": {class: f1 or None}, "n_pixels"}``.
    """
    from facies_bench.evaluation.metrics import confusion_counts, scores_from_confusion

    truth = np.asarray(true_facies).astype(np.int64)
    keep = (np.asarray(outline) != 0) & (classes != NODATA_CLASS) & (truth >= 0) & (truth < schema.N_CLASSES)
    cm = confusion_counts(truth[keep], classes[keep].astype(np.int64))
    s = scores_from_confusion(cm)
    return {"pixel_accuracy": float(s.accuracy), "macro_f1": float(s.macro_f1),
            "per_class_f1": {c.name: (None if np.isnan(s.f1[c.index]) else float(s.f1[c.index])) for c in schema.CLASSES},
            "n_pixels": int(keep.sum())}


def map_store_scene(models: Any | Sequence[Any], store: Any, scene_id: str, **kwargs: Any) -> tuple[SceneMap, dict[str, Any] | None, Any]:
    """Map a scene of a store; score it against the true facies map when the store has one.

    Args:
        models: as for :func:`map_scene`.
        store: an open :class:`~facies_bench.data.store.FaciesStore`.
        scene_id: one of ``store.scene_ids``.
        **kwargs: passed to :func:`map_scene`.

    Returns:
        ``(scene_map, scores or None, scene)``; scores as :func:`score_scene_map`.
    """
    scene = store.scene(scene_id)
    scene_map = map_scene(models, scene.features, scene.outline, feature_names=store.feature_names, **kwargs)
    scores = None
    if scene.true_facies is not None:
        scores = score_scene_map(scene_map.classes, scene.true_facies, scene.outline)
    return scene_map, scores, scene
