"""Exact per-patch evaluation: the 33 x 33 patch around every requested pixel, batched.

Patches are views into a padded input window (``numpy.lib.stride_tricks.sliding_window_view``)
gathered a batch at a time, so any model that takes (B, C, 33, 33) raw patches works, with no
Python loop over pixels.  Scene edges are padded the way the store cut its training patches
(``reflect`` by default, as :func:`facies_bench.testing.make_tiny_store` does), see
:func:`read_window`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from facies_bench import schema
from facies_bench.mapping.io import Band

PADDING_MODES = ("reflect", "constant")
_HALF = schema.PATCH_SIZE // 2


def _reflect_index(index: np.ndarray, size: int) -> np.ndarray:
    """Indices outside ``0..size-1`` mirrored as ``numpy.pad(mode="reflect")`` does."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.mod(index, period)
    return np.where(index >= size, period - index, index)


def read_window(bands: Mapping[str, Band] | np.ndarray, names: tuple[str, ...] | None, rows: tuple[int, int],
                cols: tuple[int, int], *, pad: int, padding: str = "reflect") -> np.ndarray:
    """A (C, r1 - r0 + 2 pad, c1 - c0 + 2 pad) float32 window of the scene, padded past its edges.

    Args:
        bands: ``{feature name: (H, W) array}`` (numpy, memmap or anything sliceable), or a
            (C, H, W) array whose channels are already the wanted ones.
        names: feature names to stack (ignored for an array).
        rows: output rows ``(r0, r1)``.
        cols: output columns ``(c0, c1)``.
        pad: extra pixels on every side.
        padding: ``"reflect"`` (mirror about the edge pixel) or ``"constant"`` (zeros) beyond the
            scene edges.
    """
    if padding not in PADDING_MODES:
        raise ValueError(f"Unknown padding {padding!r}. Valid: {', '.join(PADDING_MODES)}.")
    if isinstance(bands, Mapping):
        if names is None:
            raise ValueError("read_window needs the feature names to stack a mapping of bands.")
        layers = [bands[n] for n in names]
    else:
        layers = list(bands)
    height, width = layers[0].shape
    r_idx = np.arange(rows[0] - pad, rows[1] + pad)
    c_idx = np.arange(cols[0] - pad, cols[1] + pad)
    if padding == "reflect":
        r_src, c_src = _reflect_index(r_idx, height), _reflect_index(c_idx, width)
    else:
        r_src, c_src = np.clip(r_idx, 0, height - 1), np.clip(c_idx, 0, width - 1)
    r_lo, r_hi, c_lo, c_hi = int(r_src.min()), int(r_src.max()) + 1, int(c_src.min()), int(c_src.max()) + 1
    out = np.empty((len(layers), r_idx.size, c_idx.size), np.float32)
    for i, layer in enumerate(layers):
        block = np.asarray(layer[r_lo:r_hi, c_lo:c_hi], dtype=np.float32)
        out[i] = block[np.ix_(r_src - r_lo, c_src - c_lo)]
    if padding == "constant":
        out[:, (r_idx < 0) | (r_idx >= height), :] = 0.0
        out[:, :, (c_idx < 0) | (c_idx >= width)] = 0.0
    return out


def gather_patches(window: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(N, C, 33, 33) patches centred on window pixels ``(rows, cols)``.

    Args:
        window: (C, Hw, Ww) features; each requested pixel must lie at least 16 px inside.
        rows: (N,) window rows.
        cols: (N,) window columns.
    """
    size = schema.PATCH_SIZE
    views = sliding_window_view(window, (size, size), axis=(1, 2))  # (C, Hw-32, Ww-32, 33, 33)
    patches = views[:, np.asarray(rows) - _HALF, np.asarray(cols) - _HALF]  # (C, N, 33, 33)
    return np.ascontiguousarray(patches.transpose(1, 0, 2, 3))
