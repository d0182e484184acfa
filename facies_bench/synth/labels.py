"""Point labels placed as an expert would, with the published class shares and expert label noise.

* How many labels of each class each scene gets: iterative proportional fitting (raking) of a
  scene x class table to two margins, the scene label counts (from the plan) and the published
  class shares (paper, Section 2: ice 37.29, snow 21.50, debris 16.13, firn 15.23, shadow 7.21,
  refrozen-like 1.71, water 0.47, cloud 0.45 %).  The seed of the table is each region's class
  mix from Table 5 of the paper, with the cleaned counts restored to raw counts by dividing by
  (1 - pruning rate) from Table 3 (feature set 4) and Iceland's snow typo corrected to 11,757,
  times how much of the class the scene shows.  A scene never gets more than a third of the
  pixels of a class; what does not fit moves to other scenes of the region.
* Where: experts click clusters of points in visually homogeneous zones and leave ambiguous
  areas unlabelled (paper, Section 2: "continuous, visually homogeneous zones ... were kept
  consistent"; "in cases of high ambiguity ... the areas were left unlabelled").  A correct label
  goes only on a pixel whose 9 x 9 (90 m) neighbourhood is at least half its class, relaxed to
  any pixel of the class where a scene has too few such pixels.  So an ice hole of a few pixels
  inside a debris-covered terminus, or a messy firn/ice transition, is rarely labelled.  For each
  scene and class, cluster centres are drawn on those pixels and points are drawn near them
  (Gaussian kernel, 6 px) without replacement, never on Landsat 7 gaps or thin, transparent
  cloud.
* Noise: experts disagree at transitions (paper, Table 1 and Fig. 2: snow/firn, firn/ice,
  ice/refrozen-like, mixed debris/ice).  A share of each class's labels is placed within 4 px
  (8, then 16 px where a scene has too few such pixels) beyond its boundary with a neighbouring
  class, on pixels whose true class is the neighbour, before any correct label is placed; the
  label given is the expert's, the true class is kept (``labels/true``).  The share is the
  class's pruning rate in Table 3 (feature set 4: ice 14, snow 17, debris 27, firn 18,
  refrozen-like 24 %), 16.4 % of all labels with the published class shares (paper: 16 %
  pruned).  Shadow, water and cloud, which confident learning never prunes, get no noise
  (Table 1: 99.96 % and 100 % expert agreement on shadow and cloud).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from facies_bench import paper, schema
from facies_bench.synth.folds import PRUNED_TABLE3, REGION_CLASS_TABLE5, restore_raw_counts
from facies_bench.synth.render import FLAG_GAP, FLAG_THIN_CLOUD

#: Published class shares of all labels, % (paper, Section 2), in class order.
CLASS_SHARE_PCT = np.asarray(paper.CLASS_SHARE_PCT)
#: Share of each class's labels that are wrong (expert noise) = the share confident learning
#: pruned from that class (Table 3, feature set 4); with the published class shares that is
#: 16.4 % of all labels (paper: 16 %).  Shadow, water and cloud get none: they were never
#: pruned, and the experts' cross-check agreed on 99.96 % of shadow and 100 % of cloud labels
#: (Table 1); shadow truth is by construction the radiometric minimum the experts labelled, and
#: lakes are sharp-edged (their shallow rims are part of the lake in the truth).
NOISE_RATE = PRUNED_TABLE3.copy()
#: Raw label -> true classes a wrong label can hide (neighbours across a transition), with weights.
NOISE_NEIGHBOURS: dict[int, tuple[tuple[int, float], ...]] = {
    0: ((3, 0.6), (5, 0.25), (2, 0.15)),  # ice: firn, refrozen-like, debris
    1: ((3, 1.0),),  # snow: firn
    2: ((0, 1.0),),  # debris: mixed debris/ice
    3: ((1, 0.55), (0, 0.45)),  # firn: snow, ice
    5: ((0, 0.7), (3, 0.3)),  # refrozen-like: ice, firn
}
CLUSTER_SIGMA_PX = 6.0
POINTS_PER_CLUSTER = 25
NOISE_BAND_PX = 4.0
MAX_CAPACITY_SHARE = 1 / 3
#: Side of the window, px, over which an expert judges a zone homogeneous, and the shares of the
#: class in it that a correct label needs, strictest first (the last, 0, takes any class pixel).
HOMOGENEITY_WINDOW_PX = 9
HOMOGENEITY_SHARES = (0.5, 0.0)


def region_class_mix() -> dict[str, np.ndarray]:
    """Raw (pre-cleaning) class mix per region, fractions summing to 1."""
    out = {}
    for region, counts in REGION_CLASS_TABLE5.items():
        raw = restore_raw_counts(counts)
        out[region] = raw / raw.sum()
    return out


def allocate_labels(scene_counts: np.ndarray, regions: list[str], capacity: np.ndarray, *,
                    ice_only: np.ndarray | None = None, n_iter: int = 100) -> np.ndarray:
    """Labels per scene and class.

    Args:
        scene_counts: (S,) labels planned per scene.
        regions: (S,) region of each scene.
        capacity: (S, K) labellable pixels of each class in each scene.
        ice_only: (S,) bool, scenes whose labels are all ice.
        n_iter: raking iterations.

    Returns:
        (S, K) int64 label counts; class totals follow the published shares and scene totals
        the plan, as far as capacities allow.
    """
    mix = region_class_mix()
    n_scenes, k = capacity.shape
    total = scene_counts.sum()
    seed = np.array([mix[r] for r in regions]) * np.sqrt(capacity / np.maximum(capacity.sum(1, keepdims=True), 1))
    if ice_only is not None:
        seed[ice_only, 1:] = 0
        seed[ice_only, 0] = np.maximum(seed[ice_only, 0], 1e-6)
    seed = np.where(capacity > 0, seed, 0) + 1e-12 * (capacity > 0)
    col_target = CLASS_SHARE_PCT / CLASS_SHARE_PCT.sum() * total
    table = seed.copy()
    for _ in range(n_iter):
        table *= (scene_counts / np.maximum(table.sum(1), 1e-12))[:, None]
        table *= col_target / np.maximum(table.sum(0), 1e-12)
    table *= (scene_counts / np.maximum(table.sum(1), 1e-12))[:, None]
    counts = np.floor(table).astype(np.int64)
    for s in range(n_scenes):  # largest remainder keeps every scene total exact
        rest = int(scene_counts[s] - counts[s].sum())
        if rest > 0:
            order = np.argsort(-(table[s] - counts[s]), kind="stable")
            counts[s, order[:rest]] += 1
    cap = np.floor(capacity * MAX_CAPACITY_SHARE).astype(np.int64)
    regions_arr = np.asarray(regions)
    for c in range(k):
        excess = np.clip(counts[:, c] - cap[:, c], 0, None)
        counts[:, c] -= excess
        for s in map(int, np.flatnonzero(excess)):
            need = int(excess[s])
            for pool in (regions_arr == regions_arr[s], np.ones(n_scenes, bool)):
                spare = np.where(pool, cap[:, c] - counts[:, c], 0)
                if ice_only is not None and c != 0:
                    spare[ice_only] = 0
                spare = np.clip(spare, 0, None)
                if need <= 0 or spare.sum() == 0:
                    continue
                give = np.minimum(spare, np.floor(spare / spare.sum() * need).astype(np.int64))
                leftover = need - int(give.sum())
                for t in np.argsort(-spare, kind="stable"):
                    if leftover <= 0:
                        break
                    extra = min(leftover, int(spare[t] - give[t]))
                    give[t] += extra
                    leftover -= extra
                counts[:, c] += give
                need -= int(give.sum())
    return counts


def _clustered_pick(rng: np.random.Generator, candidates: np.ndarray, n: int, shape: tuple[int, int]) -> np.ndarray:
    """``n`` flat pixel indices from ``candidates`` (flat indices), clustered like expert clicks."""
    if n <= 0 or candidates.size == 0:
        return np.empty(0, np.int64)
    if n >= candidates.size:
        return np.sort(candidates)
    n_clusters = max(1, int(round(n / POINTS_PER_CLUSTER)))
    centres = rng.choice(candidates, size=min(n_clusters, candidates.size), replace=False)
    grid = np.ones(shape, bool)
    grid.flat[centres] = False
    dist = ndimage.distance_transform_edt(grid).ravel()[candidates]
    logw = -0.5 * (dist / CLUSTER_SIGMA_PX) ** 2
    logw = np.logaddexp(logw, np.log(0.01))  # a few isolated clicks
    keys = logw + rng.gumbel(size=candidates.size)
    return np.sort(candidates[np.argpartition(-keys, n - 1)[:n]])


def labellable(truth: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """(H, W) bool: glacier pixels an expert would label.

    Not Landsat 7 SLC-off gaps (nodata), and not thin, transparent cloud (opacity 0.12-0.5): "in
    cases of high ambiguity (e.g. ... very thin transparent clouds), the areas were left
    unlabelled" (paper, Section 2).
    """
    return (truth >= 0) & ((flags & (FLAG_GAP | FLAG_THIN_CLOUD)) == 0)


def labellable_counts(truth: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """(K,) int64: how many :func:`labellable` pixels each class has in the scene."""
    return np.bincount(truth[labellable(truth, flags)].astype(np.int64), minlength=schema.N_CLASSES)


def sample_points(truth: np.ndarray, flags: np.ndarray, counts: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Label points of one scene.

    Args:
        truth: (H, W) int8 true facies, -1 outside the glacier.
        flags: (H, W) uint8 flags; no point is placed where :func:`labellable` is false.
        counts: (K,) labels wanted per (expert) class.
        rng: random generator.

    Returns:
        rows, cols, raw labels, true labels, sorted by position.
    """
    shape = truth.shape
    usable = labellable(truth, flags)
    taken = np.zeros(shape, bool)
    flat_truth = truth.ravel()
    picked_idx, picked_raw, picked_true = [], [], []

    def take(idx: np.ndarray, raw: int) -> None:
        taken.flat[idx] = True
        picked_idx.append(idx)
        picked_raw.append(np.full(idx.size, raw, np.int8))
        picked_true.append(flat_truth[idx].astype(np.int8))

    # the expert's wrong labels first (they are few and need pixels next to a transition, which
    # the correct labels of the neighbouring class would otherwise use up), then the correct ones
    n_noise = np.array([rng.binomial(int(n), NOISE_RATE[c]) if NOISE_RATE[c] > 0 else 0 for c, n in enumerate(counts)])
    # a wrong label hides a pixel of its true class, which that class's own labels may need
    spare = labellable_counts(truth, flags) - np.asarray(counts)
    for c in map(int, np.flatnonzero(n_noise)):
        dist = ndimage.distance_transform_edt(truth != c)
        got = 0
        neighbours = NOISE_NEIGHBOURS[c]
        weights = np.array([w for _, w in neighbours])
        wanted = rng.multinomial(n_noise[c], weights / weights.sum())
        # first each neighbour's share within the band; what a scene cannot offer (a neighbour
        # class absent, a short transition) goes to any neighbour in wider bands
        for band, shares in ((NOISE_BAND_PX, wanted), (2 * NOISE_BAND_PX, None), (4 * NOISE_BAND_PX, None)):
            for i, (t, _) in enumerate(neighbours):
                m = min(int(shares[i]) if shares is not None else int(n_noise[c]) - got, int(spare[t]))
                if m <= 0:
                    continue
                cand = np.flatnonzero(usable & ~taken & (dist <= band) & (truth == t))
                idx = _clustered_pick(rng, cand, m, shape)
                take(idx, c)
                got += idx.size
                spare[t] -= idx.size
        n_noise[c] = got
    for c in range(schema.N_CLASSES):
        n = int(counts[c]) - int(n_noise[c])
        if n <= 0:
            continue
        of_class = truth == c
        share = ndimage.uniform_filter(of_class.astype(np.float32), HOMOGENEITY_WINDOW_PX, mode="nearest")
        for least in HOMOGENEITY_SHARES:
            idx = _clustered_pick(rng, np.flatnonzero(usable & ~taken & of_class & (share >= least - 1e-6)), n, shape)
            take(idx, c)
            n -= idx.size
            if n <= 0:
                break
    idx = np.concatenate(picked_idx) if picked_idx else np.empty(0, np.int64)
    raw = np.concatenate(picked_raw) if picked_raw else np.empty(0, np.int8)
    true = np.concatenate(picked_true) if picked_true else np.empty(0, np.int8)
    order = np.argsort(idx, kind="stable")
    idx, raw, true = idx[order], raw[order], true[order]
    rows, cols = np.divmod(idx, shape[1])
    return rows.astype(np.int64), cols.astype(np.int64), raw, true


def cut_patches(features: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(n, C, 33, 33) patches centred on (rows, cols), the scene mirrored (reflect) beyond its edges."""
    half = schema.PATCH_SIZE // 2
    padded = np.pad(features, ((0, 0), (half, half), (half, half)), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (schema.PATCH_SIZE, schema.PATCH_SIZE), axis=(1, 2))
    return np.ascontiguousarray(windows[:, rows, cols].transpose(1, 0, 2, 3), dtype=np.float32)
