"""Baseline submission: the paper's CNN (Maslov et al., Fig. 3), trained with the standard recipe.

Run it through the protocol with::

    facies-bench evaluate baselines/paper_cnn.py --quick -o runs/paper_cnn

The architecture lives in the package (``facies_bench.models.cnn_baseline``) so that its
checkpoints, and the authors' weights imported with ``facies-bench import-keras``, load
anywhere with ``facies_bench.load_model``.  This file registers it as ``cnn_baseline``; loading
the file again re-registers the same builder, which is not a duplicate.
"""

from facies_bench.models import build_paper_cnn, register_model

register_model(
    "cnn_baseline",
    hparams={"filters": 64, "hidden": 32, "dropout": 0.5},
    description="The paper's multiscale VGG-like CNN (Fig. 3): 200,072 parameters for 11 features.",
)(build_paper_cnn)
