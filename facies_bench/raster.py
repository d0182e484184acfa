"""The pixel grid of a georeferenced raster, shared by the product readers and the mapper.

It sits below both :mod:`facies_bench.products` and :mod:`facies_bench.mapping` (see the layers in
``docs/contracts.md``); :mod:`facies_bench.mapping.io` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasterio.crs import CRS
from rasterio.transform import Affine, array_bounds

__all__ = ["RasterGrid"]


@dataclass(frozen=True)
class RasterGrid:
    """The pixel grid of a scene: CRS, affine transform and shape."""

    crs: CRS | None
    transform: Affine
    width: int
    height: int

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return (self.height, self.width)

    @property
    def pixel_size(self) -> float:
        """Pixel side in CRS units (metres for projected CRSs); the grid must have square pixels."""
        return float(abs(self.transform.a))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        return array_bounds(self.height, self.width, self.transform)

    def describe(self) -> str:
        """One line: CRS, size, origin and pixel size."""
        crs = self.crs.to_string() if self.crs else "no CRS"
        t = self.transform
        return f"{crs}, {self.height}x{self.width} px, origin ({t.c:g}, {t.f:g}), pixel ({t.a:g}, {t.e:g})"

    @classmethod
    def from_dataset(cls, src: Any) -> RasterGrid:
        """The grid of an open rasterio dataset."""
        return cls(crs=src.crs, transform=src.transform, width=src.width, height=src.height)

    @classmethod
    def from_scene_info(cls, info: Any) -> RasterGrid:
        """The grid of a store scene (:class:`~facies_bench.data.store.SceneInfo`)."""
        crs = CRS.from_user_input(info.crs) if info.crs else None
        return cls(crs=crs, transform=Affine(*info.transform), width=int(info.shape[1]), height=int(info.shape[0]))
