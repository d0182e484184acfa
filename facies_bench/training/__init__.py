"""The standard training recipe: data splits in RAM, focal loss, batch augmentation, the trainer."""

from facies_bench.evaluation.metrics import mean_iou_score
from facies_bench.recipe import TrainingRecipe, check_recipe_overrides
from facies_bench.training.augment import augment_batch
from facies_bench.training.loss import focal_loss, sample_weights
from facies_bench.training.split import ArraySplit
from facies_bench.training.train import TrainResult, evaluate_split, train_torch_model

__all__ = [
    "ArraySplit", "TrainResult", "TrainingRecipe", "augment_batch", "check_recipe_overrides", "evaluate_split",
    "focal_loss", "mean_iou_score", "sample_weights", "train_torch_model",
]
