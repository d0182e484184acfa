"""Baseline submission: the paper's CNN on the centre pixel alone (the context ablation).

The same network, hyperparameters and training recipe as ``baselines/paper_cnn.py``, but every
pixel of each 33x33 patch is replaced by the centre pixel before the first convolution, so the
model sees exactly what a per-pixel classifier sees.  Its distance to ``cnn_baseline`` on the same
store, folds and seeds is what the 33x33 context is worth to the paper's model::

    facies-bench evaluate baselines/paper_cnn_centre_only.py --quick -o runs/paper_cnn_centre_only
    facies-bench compare runs/paper_cnn/predictions/seed0.parquet runs/paper_cnn_centre_only/predictions/seed0.parquet
"""

from facies_bench.models import build_paper_cnn_centre_only, register_model

register_model(
    "cnn_baseline_centre_only",
    hparams={"filters": 64, "hidden": 32, "dropout": 0.5},
    description="The paper's CNN fed the centre pixel broadcast over the patch: the no-context ablation.",
)(build_paper_cnn_centre_only)
