"""Models: the registry, the paper's CNN, the raw-patch wrapper, checkpoints and Keras import.

Public API::

    register_model, create_model, list_models, get_model_entry, import_submission
    FaciesModel, save_checkpoint, load_model
    PaperCNN, build_paper_cnn, build_paper_cnn_centre_only, count_parameters, import_keras_weights
"""

from facies_bench.models import tiny as _tiny  # noqa: F401  (imported for its effect: registers the test_* models)
from facies_bench.models._registry import (
    ModelEntry,
    collect_registrations,
    create_model,
    get_model_entry,
    import_submission,
    list_models,
    register_model,
    unregister_model,
)
from facies_bench.models.checkpoint import load_model, read_checkpoint, save_checkpoint
from facies_bench.models.cnn_baseline import PaperCNN, build_paper_cnn, build_paper_cnn_centre_only, count_parameters
from facies_bench.models.keras_import import import_keras_weights, load_norm_stats
from facies_bench.models.wrapper import FaciesModel

__all__ = [
    "FaciesModel", "ModelEntry", "PaperCNN", "build_paper_cnn", "build_paper_cnn_centre_only", "collect_registrations",
    "count_parameters", "create_model", "get_model_entry", "import_keras_weights", "import_submission", "list_models",
    "load_model", "load_norm_stats", "read_checkpoint", "register_model", "save_checkpoint", "unregister_model",
]
