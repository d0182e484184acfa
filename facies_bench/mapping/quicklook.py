"""Quicklook PNG in the layout of the paper's Fig. 6.

Three panels side by side: (left) the scene in false colour (R: SWIR ~2.2 um, G: NIR, B: red)
with the glacier outline, (middle) the facies map with a class legend, (right) the confidence
map with a colour bar.  Large scenes are subsampled to at most ``max_side`` pixels per side
(nearest neighbour, so classes stay classes).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facies_bench import schema
from facies_bench.atomic import atomic_path
from facies_bench.mapping.io import NODATA_CLASS


def quicklook_step(shape: tuple[int, ...], *, max_side: int = 1500) -> int:
    """Subsampling step that brings a scene of ``shape`` (..., H, W) to at most ``max_side`` px a side."""
    return max(1, int(np.ceil(max(shape[-2:]) / max_side)))


def false_colour(optical: np.ndarray, *, percentiles: tuple[float, float] = (2.0, 98.0)) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1]: SWIR2, NIR, red, each stretched between the given percentiles.

    Args:
        optical: (6, H, W) reflectance in ``schema.OPTICAL_FEATURES`` order (NaN = nodata, shown black).
        percentiles: lower and upper percentiles stretched to black and white.
    """
    names = schema.OPTICAL_FEATURES
    rgb = np.stack([optical[names.index(b)] for b in ("swir2", "nir", "red")], axis=-1).astype(np.float32)
    finite = rgb[np.isfinite(rgb).all(axis=-1)]
    if finite.size == 0:
        return np.zeros(rgb.shape, np.float32)
    lo = np.percentile(finite, percentiles[0], axis=0)
    hi = np.percentile(finite, percentiles[1], axis=0)
    out = (rgb - lo) / np.where(hi > lo, hi - lo, 1.0)
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0)


def write_quicklook(path: str | os.PathLike, optical: np.ndarray, classes: np.ndarray, confidence: np.ndarray, *,
                    outline: np.ndarray | None = None, title: str | None = None, calibrated: bool = False,
                    max_side: int = 1500, dpi: int = 150) -> Path:
    """Write the Fig. 6-style quicklook (false colour | facies | confidence) as a PNG, atomically.

    Args:
        path: output PNG.
        optical: (6, H, W) reflectance.
        classes: (H, W) uint8 class codes, ``NODATA_CLASS`` unmapped.
        confidence: (H, W) confidence in [0, 1], NaN unmapped.
        outline: (H, W) glacier mask drawn on the false-colour panel.
        title: figure title (e.g. the scene id).
        calibrated: label the confidence panel as calibrated.
        max_side: subsample larger scenes to this many pixels per side.
        dpi: resolution of the PNG.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    step = quicklook_step(classes.shape, max_side=max_side)
    sub = (slice(None, None, step), slice(None, None, step))
    rgb = false_colour(optical[:, sub[0], sub[1]])
    cls = classes[sub]
    conf = confidence[sub]
    height, width = cls.shape
    colours = np.array([c.colour for c in schema.CLASSES], dtype=float) / 255.0
    cmap = ListedColormap(colours).with_extremes(bad=(0, 0, 0, 0))
    norm = BoundaryNorm(np.arange(schema.N_CLASSES + 1) - 0.5, schema.N_CLASSES)
    masked = np.ma.masked_equal(cls.astype(np.int16), NODATA_CLASS)

    panel_w = 4.0
    fig = Figure(figsize=(3 * panel_w + 2.2, panel_w * height / max(width, 1) + 0.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    axes[0].imshow(rgb, interpolation="nearest")
    if outline is not None:
        axes[0].contour(np.asarray(outline[sub], dtype=float), levels=[0.5], colors="yellow", linewidths=0.6)
    axes[0].set_title("False colour (SWIR2, NIR, R)", fontsize=9)
    axes[1].imshow(masked, cmap=cmap, norm=norm, interpolation="nearest")
    axes[1].set_title("Facies", fontsize=9)
    handles = [Patch(facecolor=colours[c.index], edgecolor="0.3", linewidth=0.4, label=c.name) for c in schema.CLASSES]
    axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    image = axes[2].imshow(np.ma.masked_invalid(conf), cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest")
    axes[2].set_title("Calibrated confidence" if calibrated else "Confidence (max softmax)", fontsize=9)
    fig.colorbar(image, ax=axes[2], fraction=0.046, pad=0.03)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path
