"""Confidence calibration as in the paper: one Laplacian kernel ridge regression per fold.

For the fold model with test fold k, its predictions on validation fold ``(k - 1) mod 6`` give a
reliability curve: the mean max-softmax confidence and the observed accuracy in each non-empty
bin of :data:`FIT_BINS` equal-width bins, plus the anchors (0, 0) and (1, 1).  A scikit-learn
``KernelRidge(kernel="laplacian", gamma=None)`` with one ``alpha`` per point is fitted to these
points, and its output is clipped to [0, 1] (the authors' calibration notebook clips; their
mapping script does not).

What is taken from the published calibration models
(``shared/reference/published_models/calibration/fold{k}.pickle``): the kernel and its
``gamma`` (None = 1 / n_features = 1), 17-19 fitted points spaced 0.04 apart (25 bins), the
anchors, and per-point alphas between 0 and ~0.006 that are 0 at the anchors and at the most
populated bin and largest at sparse bins.  The paper does not state the alpha rule; this module
uses ``alpha_j = ALPHA_MAX * (1 - n_j / max_j n_j)``, which has those properties: well-populated
bins are interpolated, sparse ones smoothed.

A :class:`Calibrator` keeps only the fitted points and dual coefficients, so it predicts with
numpy, is picklable and round-trips through JSON (:func:`save_calibrators` /
:func:`load_calibrators`); :meth:`Calibrator.from_kernel_ridge` wraps the published pickles.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facies_bench import schema
from facies_bench.atomic import atomic_write_text
from facies_bench.errors import CalibrationError, PredictionsError
from facies_bench.evaluation.metrics import reliability_curve

#: Equal-width bins of the reliability curve a calibrator is fitted to (0.04 wide, as published).
FIT_BINS = 25
#: Largest per-point ridge penalty (sparse bins); the most populated bin gets 0.
ALPHA_MAX = 6e-3
#: Format tag of a saved calibrator file.
CALIBRATOR_FORMAT = "facies-bench-calibrators"
#: Values per chunk when predicting (bounds memory for whole-scene confidence maps).
_CHUNK = 1 << 18


@dataclass(frozen=True)
class Calibrator:
    """Maps a max-softmax confidence to calibrated confidence (expected accuracy).

    ``predict(q) = clip(sum_j dual_coef[j] * exp(-gamma * |q - x_fit[j]|), 0, 1)``, which is
    exactly ``KernelRidge(kernel="laplacian").predict`` followed by clipping.
    """

    x_fit: np.ndarray  #: (M,) confidences of the fitted points
    dual_coef: np.ndarray  #: (M,) kernel ridge dual coefficients
    gamma: float = 1.0
    clip: bool = True
    info: dict[str, Any] = field(default_factory=dict)  #: fold, fitted curve, counts...

    def predict(self, confidence: np.ndarray) -> np.ndarray:
        """Calibrated confidence for any array of confidences (same shape, float64)."""
        q = np.asarray(confidence, dtype=np.float64)
        flat = q.reshape(-1)
        out = np.empty(flat.shape, dtype=np.float64)
        x = self.x_fit[None, :]
        for start in range(0, flat.size, _CHUNK):
            block = flat[start:start + _CHUNK, None]
            out[start:start + _CHUNK] = np.exp(-self.gamma * np.abs(block - x)) @ self.dual_coef
        if self.clip:
            np.clip(out, 0.0, 1.0, out=out)
        return out.reshape(q.shape)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the fitted kernel ridge (inverse of :meth:`from_dict`)."""
        return {"x_fit": self.x_fit.tolist(), "dual_coef": self.dual_coef.tolist(), "gamma": self.gamma,
                "clip": self.clip, "info": self.info}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Rebuild a calibrator from :meth:`to_dict`'s output."""
        return cls(x_fit=np.asarray(data["x_fit"], dtype=np.float64), dual_coef=np.asarray(data["dual_coef"], dtype=np.float64),
                   gamma=float(data.get("gamma", 1.0)), clip=bool(data.get("clip", True)), info=dict(data.get("info", {})))

    @classmethod
    def from_kernel_ridge(cls, model: Any, *, clip: bool = True, info: dict[str, Any] | None = None) -> Calibrator:
        """Wrap a fitted one-feature ``sklearn.kernel_ridge.KernelRidge`` with a Laplacian kernel.

        For example the authors' published ``calibration/fold{k}.pickle``.
        """
        x_fit = getattr(model, "X_fit_", None)
        if getattr(model, "kernel", None) != "laplacian" or x_fit is None or np.asarray(x_fit).shape[1:] != (1,):
            shape = None if x_fit is None else np.shape(x_fit)
            msg = f"Only one-feature Laplacian KernelRidge models can be wrapped; got kernel={getattr(model, 'kernel', None)!r}, X_fit_ shape {shape}."
            raise CalibrationError(msg)
        gamma = 1.0 if model.gamma is None else float(model.gamma)
        return cls(x_fit=np.asarray(model.X_fit_, dtype=np.float64)[:, 0],
                   dual_coef=np.asarray(model.dual_coef_, dtype=np.float64).reshape(-1), gamma=gamma, clip=clip,
                   info=dict(info or {}))


def fit_calibrator(confidence: np.ndarray, correct: np.ndarray, *, n_bins: int = FIT_BINS,
                   alpha_max: float = ALPHA_MAX, info: dict[str, Any] | None = None) -> Calibrator:
    """Fit one calibrator to validation confidences and correctness.

    Args:
        confidence: (N,) max-softmax confidences on the validation fold.
        correct: (N,) bool, prediction equals the label.
        n_bins: equal-width bins of the reliability curve.
        alpha_max: ridge penalty of the sparsest bin.
        info: extra metadata kept with the calibrator.

    Raises:
        PredictionsError: when there are no validation samples.
    """
    from sklearn.kernel_ridge import KernelRidge

    confidence = np.asarray(confidence, dtype=np.float64)
    if confidence.size == 0:
        raise PredictionsError("Cannot fit a calibrator: no validation predictions were given for this fold.")
    curve = reliability_curve(confidence, correct, n_bins=n_bins)
    keep = curve.count > 0
    x = curve.mean_confidence[keep]
    y = curve.accuracy[keep]
    n = curve.count[keep]
    # Points on top of an anchor would make the kernel matrix singular; the anchor wins.
    away = (np.abs(x) > 1e-6) & (np.abs(x - 1.0) > 1e-6)
    x, y, n = x[away], y[away], n[away]
    alpha_points = alpha_max * (1.0 - n / n.max()) if n.size else np.empty(0)
    xs = np.concatenate([[0.0], x, [1.0]])
    ys = np.concatenate([[0.0], y, [1.0]])
    alphas = np.concatenate([[0.0], alpha_points, [0.0]])
    model = KernelRidge(kernel="laplacian", gamma=None, alpha=alphas).fit(xs[:, None], ys)
    meta = {"n_samples": int(confidence.size), "n_bins": int(n_bins), "alpha_max": float(alpha_max),
            "curve": {"confidence": xs.tolist(), "accuracy": ys.tolist(), "alpha": alphas.tolist(),
                      "count": [0, *n.astype(int).tolist(), 0]}}
    meta.update(info or {})
    return Calibrator.from_kernel_ridge(model, info=meta)


def fit_fold_calibrators(confidence: np.ndarray, correct: np.ndarray, model_fold: np.ndarray) -> dict[int, Calibrator]:
    """One calibrator per model fold (test fold k), from that model's validation predictions."""
    model_fold = np.asarray(model_fold, dtype=np.int64)
    out = {}
    for k in np.unique(model_fold):
        rows = model_fold == k
        out[int(k)] = fit_calibrator(confidence[rows], correct[rows],
                                     info={"test_fold": int(k), "validation_fold": schema.validation_fold(int(k))})
    return out


def fit_calibrators(validation_predictions: Any, store: Any, variant: str = "raw") -> dict[int, Calibrator]:
    """Fit the per-fold calibrators from a validation predictions file and a store.

    Args:
        validation_predictions: path or DataFrame with ``sample_id``, ``p_*`` and ``model_fold``.
        store: an open :class:`~facies_bench.data.store.FaciesStore`.
        variant: label variant that defines correctness (pruned samples are left out).

    Returns:
        ``{test fold k: Calibrator}`` for every model fold in the file.
    """
    from facies_bench.predictions import join_validation, read_predictions

    source = str(validation_predictions) if not hasattr(validation_predictions, "columns") else "<DataFrame>"
    frame = read_predictions(validation_predictions, store=store, kind="validation")
    meta = store.metadata(variant)
    joined = join_validation(frame, meta, source=source)
    if joined.model_fold is None:
        raise PredictionsError(f"{source}: validation predictions need a 'model_fold' column.")
    return fit_fold_calibrators(joined.confidence, joined.correct, joined.model_fold)


def save_calibrators(calibrators: dict[int, Calibrator], path: str | os.PathLike) -> Path:
    """Write calibrators to a JSON file atomically (temp file, then rename)."""
    path = Path(path)
    payload = {"format": CALIBRATOR_FORMAT, "version": 1,
               "calibrators": {str(k): c.to_dict() for k, c in sorted(calibrators.items())}}
    return atomic_write_text(path, json.dumps(payload, indent=1))


def load_calibrators(path: str | os.PathLike) -> dict[int, Calibrator]:
    """Read calibrators written by :func:`save_calibrators` (``{test fold: Calibrator}``).

    Raises:
        CalibrationError: the file is missing, unreadable, not JSON or not a calibrator file.
    """
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as exc:  # missing, unreadable, not UTF-8, not JSON
        raise CalibrationError(f"Cannot read calibrators from {str(path)!r}: {exc}. Expected a JSON file written by save_calibrators.") from exc
    if not isinstance(payload, dict) or payload.get("format") != CALIBRATOR_FORMAT:
        msg = f"{str(path)!r} is not a calibrator file (format {payload.get('format') if isinstance(payload, dict) else None!r}, expected {CALIBRATOR_FORMAT!r})."
        raise CalibrationError(msg)
    try:
        return {int(k): Calibrator.from_dict(v) for k, v in payload["calibrators"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        msg = (f"{str(path)!r} has format {CALIBRATOR_FORMAT!r} but malformed calibrators ({type(exc).__name__}: {exc}); "
               "expected {\"calibrators\": {fold: {\"x_fit\", \"dual_coef\", ...}}} as save_calibrators writes.")
        raise CalibrationError(msg) from exc
