"""The authors' confidence-calibration pickles, read without unpickling arbitrary objects.

Each ``{k}_calibration_model.pickle`` holds a fitted scikit-learn ``KernelRidge`` (Laplacian
kernel, one feature: the maximum softmax probability).  ``pickle.load`` would run whatever a
tampered file asks for, so :func:`read_kernel_ridge_pickle` uses an unpickler that resolves only
the few globals those files name — numpy's array reconstruction and ``KernelRidge`` itself, which
becomes an inert attribute holder — and refuses every other global.  scikit-learn is never
imported and its version does not matter.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from facies_bench.errors import CheckpointError
from facies_bench.evaluation.calibration import Calibrator

#: (module, name) pairs the published calibration pickles may name.
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}
_KERNEL_RIDGE = ("sklearn.kernel_ridge", "KernelRidge")


class KernelRidgeState:
    """The attributes of an unpickled ``KernelRidge`` (``X_fit_``, ``dual_coef_``, ``kernel``...)."""

    # Set by unpickling; read_kernel_ridge_pickle checks them before anything uses them.
    X_fit_: np.ndarray
    dual_coef_: np.ndarray
    gamma: float | None
    kernel: str

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class _CalibrationUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, source: str):
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == _KERNEL_RIDGE:
            return KernelRidgeState
        if (module, name) in _NUMPY_GLOBALS:
            if module.startswith("numpy.core.") and hasattr(np, "_core"):  # numpy 2 renamed it; skip the alias' warning
                module = "numpy._core." + module.removeprefix("numpy.core.")
            return super().find_class(module, name)
        msg = (f"{self.source}: refusing to unpickle {module}.{name}; a calibration pickle may only hold a "
               f"scikit-learn KernelRidge and numpy arrays.")
        raise CheckpointError(msg)


def read_kernel_ridge_pickle(path: str | os.PathLike) -> KernelRidgeState:
    """The fitted state of a pickled one-feature Laplacian ``KernelRidge``.

    Raises:
        CheckpointError: the file is missing, names any other class, or is not such a model.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Calibration file {str(path)!r} does not exist.")
    try:
        state = _CalibrationUnpickler(io.BytesIO(path.read_bytes()), str(path)).load()
    except CheckpointError:
        raise
    except Exception as exc:  # a truncated or garbled pickle raises anything from EOFError to UnpicklingError
        raise CheckpointError(f"{str(path)!r} is not a readable calibration pickle ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(state, KernelRidgeState):
        raise CheckpointError(f"{str(path)!r} holds a {type(state).__name__}, not a KernelRidge calibration model.")
    x_fit, dual = np.asarray(getattr(state, "X_fit_", None)), np.asarray(getattr(state, "dual_coef_", None))
    if getattr(state, "kernel", None) != "laplacian" or x_fit.ndim != 2 or x_fit.shape[1] != 1 or dual.shape != (x_fit.shape[0],):
        msg = (f"{str(path)!r} is not a one-feature Laplacian KernelRidge (kernel={getattr(state, 'kernel', None)!r}, "
               f"X_fit_ {x_fit.shape}, dual_coef_ {dual.shape}).")
        raise CheckpointError(msg)
    return state


def calibrator_from_pickle(path: str | os.PathLike, *, info: dict[str, Any] | None = None) -> Calibrator:
    """A :class:`~facies_bench.evaluation.calibration.Calibrator` equal to the pickled model's ``predict``.

    Clipped to [0, 1], as the authors' calibration notebook does.
    """
    state = read_kernel_ridge_pickle(path)
    gamma: float | None = getattr(state, "gamma", None)
    if gamma is None:
        gamma = 1.0 / state.X_fit_.shape[1]
    return Calibrator(x_fit=np.asarray(state.X_fit_, np.float64)[:, 0], dual_coef=np.asarray(state.dual_coef_, np.float64),
                      gamma=float(gamma), clip=True, info={"source": str(path), **(info or {})})
