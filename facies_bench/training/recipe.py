"""The standard training recipe (defined in :mod:`facies_bench.recipe`, re-exported here)."""

from facies_bench.recipe import PRECISIONS, TrainingRecipe, check_recipe_overrides

__all__ = ["PRECISIONS", "TrainingRecipe", "check_recipe_overrides"]
