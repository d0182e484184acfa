"""Dense (fully convolutional) evaluation of the paper's CNN over a whole tile.

The per-patch network (:class:`~facies_bench.models.cnn_baseline.PaperCNN`) sees a 33 x 33 patch
centred on a pixel and uses three things from it: ``c1``, the scale-1 activations at the centre;
``c2``, the scale-2 activations at the centre cell of the 3 x 3 / stride-3 pooled map; and ``g``,
the global maximum of the 11 x 11 scale-2 map.  Computed once over a tile:

* scale 1 over the tile gives ``c1`` at every pixel (its 7 x 7 receptive field lies inside the
  patch, so it is exact);
* the pooling has a phase: a patch whose top-left corner is at row ``s`` pools rows
  ``s + 3u .. s + 3u + 2``, so pixels fall into 3 x 3 phase classes by ``(row - 16) mod 3`` and
  ``(col - 16) mod 3``.  For each phase the scale-1 map is pooled with that offset and scale 2 is
  run on the pooled map; a pixel's ``c2`` is that map at its centre cell (exact again: the
  receptive field stays inside the patch), and its ``g`` is a sliding 11 x 11 maximum
  (``max_pool2d`` with stride 1) at its first cell;
* the dense layers run on the gathered ``[c1, c2, g]`` vectors of the tile's glacier pixels.

Only ``g`` differs from the per-patch model: at a patch border the per-patch network pads with
zeros while the dense computation sees the real neighbours, so the per-patch scale-1 map differs
in its 3-px border band, the pooled map in its outer ring, and the scale-2 map in every cell
within 3 cells of the border: only the inner 3 x 3 of the 121 scale-2 cells are shared between
neighbouring patches (their maximum, ``with_inner=True``, is a lower bound of the exact ``g``).

What is and is not achievable (measured with the published weights; ``benchmarks/test_mapping.py``):

* Exact ``g`` cannot be had cheaply.  The four corner blocks (4 x 4 cells each, 64 of the 121)
  depend on both the patch's top and left (etc.) border positions, so they are unique to every
  patch: about 500 conv-evaluations per pixel against ~5 for the whole dense pass, i.e. ~100x
  the dense cost, which is already about the budget of one-patch-per-pixel inference.
* A certificate (refine only pixels whose decision could flip) needs an upper bound of the
  per-patch ring activations; interval bounds through six 64-channel convolutions are vacuous,
  and the exact ``g`` exceeds the dense one in ~65-70 % of channels, so no cheap bound holds.
* Pure dense agreement with exact per-patch classes on glacier pixels of the quick store's scenes
  (500 sampled glacier pixels in each of 12 scenes, weighted by the scenes' glacier areas):
  98.9 % with the published fs4 fold-0 weights, 99.0 % with the fs4 six-fold ensemble, 95.9 %
  with fs1 fold 0, 88.6 % for a CNN trained 20 quick epochs on that store (fold 0), 0.67-0.84 for
  random PaperCNNs.  Disagreement is not concentrated at outline or nodata edges beyond what the
  margin sees: a band around nodata or the outline adds 2-5 % of the pixels and no agreement.

The default is therefore a hybrid: ``map_scene`` (``refine_margin=DEFAULT_REFINE_MARGIN``, 0.12)
recomputes per patch the pixels whose :func:`~facies_bench.mapping.predict_scene.robust_margin`
(the worse of the top-class margins at the dense ``g`` and at its inner lower bound, negative when
the two disagree on the class) is below 0.12.  Among the criteria tried (plain top-2 margin,
robust margin, either scaled by the top probability or the entropy, log-probability margins,
extrapolated ``g``, plus outline/nodata bands) the robust margin needed the fewest pixels for
99.5 % with the published weights (the plain margin did for the quick-trained CNN, which needs
~40 % either way), and no rescaling made one threshold fit every model better.  0.12 is the smallest
threshold that keeps >= 99.5 % (area-weighted) for all four models measured; it recomputes about
6 % (fs4 fold 0), 15 % (fs4 ensemble), 19 % (fs1) and 43 % (the quick-trained CNN) of the pixels:
confident, well-trained models pay little, flat ones approach per-patch cost.  Same-run CPU
times (one thread) on whole small scenes: see ``benchmarks/test_mapping.py``
(``test_default_mode_agreement_and_time_on_store_scenes``) and ``docs/products.md``.
``refine_margin=0`` is pure dense; a larger margin buys closer agreement.

Work per pixel: scale 1 once, scale 2 over nine phase maps of a ninth of the pixels each, i.e.
about the cost of six 3 x 3 convolutions per pixel instead of the ~1,200 pixel-convolutions of a
33 x 33 patch.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facies_bench import schema
from facies_bench.models.cnn_baseline import PaperCNN

#: Input rows/columns a tile needs beyond its output pixels, each side.  A patch reaches 16 px;
#: the scale-2 convolutions around the patch's outer pooled cells reach 3 cells (9 px) further,
#: and the scale-1 convolutions feeding those cells 3 px more (16 + 9 + 3 = 28).  Checked by the
#: tiling-invariance test.
DENSE_HALO = 28

_HALF = schema.PATCH_SIZE // 2  # 16
_POOLED = schema.PATCH_SIZE // 3  # 11
_INNER = 4  # first inner scale-2 cell: cells 4..6 are at least 4 cells from the patch's pooled border


def supports_dense(backbone: nn.Module) -> bool:
    """Whether ``backbone`` has the paper CNN's layout (scale1, 3x3/3 pool, scale2, head)."""
    if not isinstance(backbone, PaperCNN):
        return False
    pool = backbone.pool
    return isinstance(pool, nn.MaxPool2d) and pool.kernel_size in (3, (3, 3)) and pool.stride in (3, (3, 3)) \
        and pool.padding in (0, (0, 0))


@overload
def dense_logits(backbone: PaperCNN, window: torch.Tensor, rows: np.ndarray, cols: np.ndarray, *,
                 with_inner: Literal[False] = False) -> torch.Tensor: ...
@overload
def dense_logits(backbone: PaperCNN, window: torch.Tensor, rows: np.ndarray, cols: np.ndarray, *,
                 with_inner: Literal[True]) -> tuple[torch.Tensor, torch.Tensor]: ...
@overload
def dense_logits(backbone: PaperCNN, window: torch.Tensor, rows: np.ndarray, cols: np.ndarray, *,
                 with_inner: bool) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]: ...
def dense_logits(backbone: PaperCNN, window: torch.Tensor, rows: np.ndarray, cols: np.ndarray, *,
                 with_inner: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel (N, K) float32 logits of a PaperCNN: its head on :func:`dense_latent`.

    With ``with_inner=True`` also the (N, K) logits with ``g`` replaced by the inner-cell maximum
    (see :func:`dense_latent`), the other end of the range the exact ``g`` is compared over.
    """
    if not with_inner:
        return backbone.head(dense_latent(backbone, window, rows, cols)).float()
    latent, inner = dense_latent(backbone, window, rows, cols, with_inner=True)
    logits = backbone.head(latent).float()
    filters = inner.shape[1]
    latent[:, 2 * filters:] = inner
    return logits, backbone.head(latent).float()


@overload
def dense_latent(backbone: PaperCNN, window: torch.Tensor, rows: np.ndarray, cols: np.ndarray, *,
                 with_inner: Literal[False] = False) -> torch.Tensor: ...
@overload
def dense_latent(backbone: PaperCNN, window: torch.Tensor, rows: np.ndarray, cols: np.ndarray, *,
                 with_inner: Literal[True]) -> tuple[torch.Tensor, torch.Tensor]: ...
def dense_latent(backbone: PaperCNN, window: torch.Tensor, rows: np.ndarray, cols: np.ndarray, *,
                 with_inner: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel latent ``[c1, c2, g]`` of a PaperCNN for pixels of a normalised input window.

    Args:
        backbone: a :class:`~facies_bench.models.cnn_baseline.PaperCNN` in eval mode.
        window: (C, Hw, Ww) normalised features; every requested pixel must lie at least
            :data:`DENSE_HALO` pixels from the window's edges.
        rows: (N,) window row of each requested pixel.
        cols: (N,) window column of each requested pixel.
        with_inner: also return the (N, filters) maximum over the patch's inner 3 x 3 scale-2
            cells, the only cells whose per-patch values equal the dense ones, hence a lower
            bound of the per-patch ``g`` (channel by channel).

    Returns:
        (N, 3 * filters) latent vectors, as ``PaperCNN.features`` gives for the 33 x 33 patch
        around each pixel: ``c1`` and ``c2`` equal, ``g`` computed without the zero padding at the
        patch borders (see the module docstring); and the inner maximum when asked.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    h, w = window.shape[-2:]
    if rows.size and (rows.min() < DENSE_HALO or cols.min() < DENSE_HALO or rows.max() >= h - DENSE_HALO
                      or cols.max() >= w - DENSE_HALO):
        msg = f"Requested pixels must lie at least {DENSE_HALO} px inside the {h}x{w} window."
        raise ValueError(msg)
    n = rows.size
    filters = backbone.filters
    if n == 0:
        empty = torch.empty((0, 3 * filters), dtype=window.dtype)
        return (empty, empty[:, :filters]) if with_inner else empty
    x = window.unsqueeze(0)
    f1 = backbone.scale1(x)  # (1, F, h, w)
    r_t, c_t = torch.from_numpy(rows), torch.from_numpy(cols)
    c1 = f1[0][:, r_t, c_t].T  # (N, F)
    c2 = torch.empty((n, filters), dtype=f1.dtype)
    g = torch.empty((n, filters), dtype=f1.dtype)
    inner = torch.empty((n, filters), dtype=f1.dtype) if with_inner else None
    top, left = rows - _HALF, cols - _HALF  # patch corners in window coordinates
    phase_r, phase_c = top % 3, left % 3
    for a in range(3):
        for b in range(3):
            sel = np.flatnonzero((phase_r == a) & (phase_c == b))
            if sel.size == 0:
                continue
            f2 = backbone.scale2(backbone.pool(f1[:, :, a:, b:]))  # (1, F, ~h/3, ~w/3)
            # sliding 11 x 11 maximum, separably (a 121-element kernel is slow in max_pool2d)
            gmax = F.max_pool2d(F.max_pool2d(f2, (_POOLED, 1), stride=1), (1, _POOLED), stride=1)
            u = torch.from_numpy((top[sel] - a) // 3)
            v = torch.from_numpy((left[sel] - b) // 3)
            sel_t = torch.from_numpy(sel)
            c2[sel_t] = f2[0][:, u + _POOLED // 2, v + _POOLED // 2].T
            g[sel_t] = gmax[0][:, u, v].T
            if inner is not None:
                imax = F.max_pool2d(F.max_pool2d(f2, (3, 1), stride=1), (1, 3), stride=1)
                inner[sel_t] = imax[0][:, u + _INNER, v + _INNER].T
            del f2, gmax
    latent = torch.cat([c1, c2, g], dim=1)
    return (latent, inner) if inner is not None else latent
