"""facies-bench: the pan-European glacier facies dataset and benchmark harness.

Public entry points (imported lazily so that ``import facies_bench`` stays light)::

    from facies_bench import load_dataset, load_model, open_store, evaluate_predictions
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("facies-bench")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

_LAZY = {
    "load_dataset": "facies_bench.default_dataset",
    "open_store": "facies_bench.data.store",
    "resolve_store": "facies_bench.default_dataset",
    "load_model": "facies_bench.models",
    "register_model": "facies_bench.models",
    "list_models": "facies_bench.models",
    "create_model": "facies_bench.models",
    "evaluate_predictions": "facies_bench.evaluation",
    "generate_store": "facies_bench.synth",
    "schema": "facies_bench.schema",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        module = import_module(_LAZY[name])
        return module if name == "schema" else getattr(module, name)
    raise AttributeError(f"module 'facies_bench' has no attribute {name!r}")
