"""``ArraySplit``: one protocol split (train, validation or test) held in RAM as numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class ArraySplit:
    """Patches, labels and grouping columns of one split.

    Attributes:
        patches: (N, C, 33, 33) float32 raw (unnormalised) features.
        labels: (N,) int64 class codes; ``-1`` marks samples pruned by a cleaned variant (the
            trainer and the bundled estimators ignore them).
        scene: (N,) int scene codes (the store's ``scene`` column), for the scene weights.
        sample_id: (N,) int64 sample ids.
    """

    patches: np.ndarray
    labels: np.ndarray
    scene: np.ndarray
    sample_id: np.ndarray

    def __post_init__(self) -> None:
        self.patches = np.asarray(self.patches, dtype=np.float32)
        self.labels = np.asarray(self.labels).astype(np.int64, copy=False)
        self.scene = np.asarray(self.scene).astype(np.int64, copy=False)
        self.sample_id = np.asarray(self.sample_id).astype(np.int64, copy=False)
        n = len(self.patches)
        if self.patches.ndim != 4:
            raise ValueError(f"ArraySplit patches have shape {self.patches.shape}; expected (N, C, H, W).")
        bad = {k: v.shape for k, v in (("labels", self.labels), ("scene", self.scene), ("sample_id", self.sample_id)) if v.shape != (n,)}
        if bad:
            raise ValueError(f"ArraySplit columns {bad} do not match the {n} patches; each must have shape ({n},).")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_channels(self) -> int:
        """Number of feature channels C."""
        return int(self.patches.shape[1])

    def subset(self, index: np.ndarray | slice) -> ArraySplit:
        """The rows selected by a boolean mask, an index array or a slice."""
        return ArraySplit(self.patches[index], self.labels[index], self.scene[index], self.sample_id[index])

    def labelled(self) -> ArraySplit:
        """The samples that carry a label (drops pruned samples, label -1)."""
        keep = self.labels >= 0
        return self if keep.all() else self.subset(keep)

    @classmethod
    def from_store(cls, store: Any, rows: slice | np.ndarray, *, features: Any = None, variant: str = "raw") -> ArraySplit:
        """Read rows of a :class:`~facies_bench.data.store.FaciesStore` into RAM.

        Args:
            store: an open store.
            rows: a slice (``store.fold_rows(k)``) or an index array.
            features: feature set id, names or None (all).
            variant: label variant (``raw``, ``cleaned`` or a variant name).
        """
        if isinstance(rows, slice):
            index: Any = rows
        else:
            index = np.asarray(rows, dtype=np.int64)
        return cls(patches=store.read_patches(rows, features=features), labels=store.labels(variant)[index],
                   scene=store.column("scene")[index], sample_id=store.column("sample_id")[index])

    @classmethod
    def concatenate(cls, splits: list[ArraySplit]) -> ArraySplit:
        """Rows of several splits (e.g. the four training folds) in one split."""
        if not splits:
            raise ValueError("ArraySplit.concatenate needs at least one split.")
        return cls(np.concatenate([s.patches for s in splits]), np.concatenate([s.labels for s in splits]),
                   np.concatenate([s.scene for s in splits]), np.concatenate([s.sample_id for s in splits]))
