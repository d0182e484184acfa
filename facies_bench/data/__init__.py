"""Dataset stores, loaders, release download/conversion and Hub export."""

from facies_bench.data.store import FaciesStore, SceneInfo, StoreBuilder, open_store

__all__ = ["FaciesStore", "SceneInfo", "StoreBuilder", "open_store"]
