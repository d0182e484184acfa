"""Report figures: the confusion matrix (paper Fig. 4) and reliability curves (paper Fig. 5).

The confusion matrix is row-normalised; the reliability curves come with a confidence histogram,
before and after calibration.

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas, so no pyplot state
or display is involved.  They are rendered from the report dict alone.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from facies_bench import schema


def _save(fig: Figure, path: str | os.PathLike) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, format="png")


def _array(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def plot_confusion_matrix(report: dict[str, Any], path: str | os.PathLike) -> None:
    """Row-normalised confusion matrix of ``report["overall"]`` as a PNG (rows: label, columns: prediction)."""
    matrix = np.array([_array(row) for row in report["overall"]["confusion"]["row_normalised"]])
    k = len(schema.CLASS_NAMES)
    fig = Figure(figsize=(6.4, 5.6))
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(np.nan_to_num(matrix, nan=0.0) * 100, cmap="Blues", vmin=0, vmax=100)
    for i in range(k):
        for j in range(k):
            value = matrix[i, j]
            if np.isfinite(value):
                ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if value > 0.6 else "black")
    ax.set_xticks(range(k), schema.CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(k), schema.CLASS_NAMES)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("Label")
    ax.set_title("Confusion matrix (row-normalised, %)")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.subplots_adjust(left=0.2, right=0.95, bottom=0.2, top=0.93)
    _save(fig, path)


def _reliability_panel(fig: Figure, grid: Any, column: int, curve: dict[str, Any], title: str) -> None:
    top = fig.add_subplot(grid[0, column])
    bottom = fig.add_subplot(grid[1, column], sharex=top)
    edges = np.asarray(curve["edges"], dtype=np.float64)
    count = np.asarray(curve["count"], dtype=np.float64)
    total = count.sum()
    top.stairs(count / total if total else count, edges, fill=True, color="grey")
    top.set_ylabel("Frequency")
    top.tick_params(labelbottom=False)
    top.set_title(title)
    conf = _array(curve["mean_confidence"])
    acc = _array(curve["accuracy"])
    keep = np.isfinite(conf)
    bottom.plot([0, 1], [0, 1], ls="--", color="black", lw=1, label="perfect calibration")
    bottom.plot(conf[keep], acc[keep], marker="o", ms=2, lw=1, color="tab:blue", label="observed")
    bottom.set_xlim(0, 1)
    bottom.set_ylim(0, 1.02)
    bottom.set_xlabel("Confidence")
    bottom.set_ylabel("Accuracy")
    ece = curve["ece"]
    bottom.text(0.03, 0.92, "ECE$_{100}$ = " + ("n/a" if ece is None else f"{100 * ece:.1f}%"), transform=bottom.transAxes)
    bottom.legend(loc="lower right", fontsize=8)


def plot_reliability(report: dict[str, Any], path: str | os.PathLike) -> None:
    """Reliability curves before and after calibration, each under a confidence histogram."""
    cal = report["calibration"]
    first = "(a) before calibration" if cal["calibrated"] else "Uncalibrated (calibration not run)"
    curves = [(cal["reliability"]["before"], first)]
    if cal["reliability"]["after"] is not None:
        curves.append((cal["reliability"]["after"], "(b) after calibration"))
    fig = Figure(figsize=(5.0 * len(curves), 5.6))
    grid = fig.add_gridspec(2, len(curves), height_ratios=(1, 3))
    for column, (curve, title) in enumerate(curves):
        _reliability_panel(fig, grid, column, curve, title)
    fig.subplots_adjust(left=0.1 if len(curves) == 2 else 0.16, right=0.97, bottom=0.09, top=0.93, wspace=0.25, hspace=0.08)
    _save(fig, path)
