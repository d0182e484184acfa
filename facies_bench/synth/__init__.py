"""The embedded synthetic pan-European glacier facies dataset (``facies-bench data synth``).

A simulator of the dataset of Maslov et al. (preprint, doi:10.31223/X5QN1V): 31 glaciers,
92 Landsat/Sentinel-2 scenes, eight classes, 137,592 expert-like point labels with label noise,
six glacier-wise folds.  Modules: ``plan`` (scenes, dates, sensors), ``landscape`` (terrain),
``massbalance`` (degree-day climate and mass balance per glacier-year, which sets the snowline),
``render`` (facies, reflectance, features), ``labels`` (allocation, expert-like points, noise),
``folds`` (label shares and the fold assignment), ``generate`` (the store).  Every modelling
choice and its source is in the module docstrings and ``docs/simulator.md``.
"""

from facies_bench.synth.folds import SYNTHETIC_FOLDS, fold_glaciers, glacier_label_shares
from facies_bench.synth.generate import DATASET_NAME, generate_store

__all__ = ["DATASET_NAME", "SYNTHETIC_FOLDS", "fold_glaciers", "generate_store", "glacier_label_shares"]
