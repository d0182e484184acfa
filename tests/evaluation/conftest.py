"""Fixtures of the evaluator tests: predictions made from the tiny store's labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facies_bench import schema


def noisy_probabilities(labels: np.ndarray, *, seed: int, strength: float = 1.5) -> np.ndarray:
    """Softmax of noise plus ``strength`` on the label's logit: mostly right, sometimes wrong."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(labels), schema.N_CLASSES))
    logits[np.arange(len(labels)), labels] += strength
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def predictions_frame(sample_id: np.ndarray, probs: np.ndarray, **extra: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(probs, columns=list(schema.PROBABILITY_COLUMNS))
    frame.insert(0, "sample_id", np.asarray(sample_id, dtype=np.int64))
    for name, values in extra.items():
        frame[name] = values
    return frame


@pytest.fixture(scope="session")
def make_predictions_frame():
    """The :func:`predictions_frame` helper, for tests that build their own predictions."""
    return predictions_frame


@pytest.fixture(scope="session")
def make_noisy_probabilities():
    """The :func:`noisy_probabilities` helper, for tests that draw their own models."""
    return noisy_probabilities


@pytest.fixture(scope="session")
def tiny_meta(tiny_store):
    return tiny_store.metadata("raw")


@pytest.fixture(scope="session")
def tiny_predictions(tiny_meta) -> pd.DataFrame:
    """Test predictions for every sample of the tiny store (column fold)."""
    probs = noisy_probabilities(tiny_meta["label"].to_numpy(), seed=1)
    return predictions_frame(tiny_meta["sample_id"].to_numpy(), probs, fold=tiny_meta["fold"].to_numpy())


@pytest.fixture(scope="session")
def tiny_validation(tiny_meta) -> pd.DataFrame:
    """Validation predictions: every sample predicted by the model whose validation fold holds it."""
    probs = noisy_probabilities(tiny_meta["label"].to_numpy(), seed=2)
    model_fold = (tiny_meta["fold"].to_numpy() + 1) % schema.N_FOLDS
    return predictions_frame(tiny_meta["sample_id"].to_numpy(), probs, model_fold=model_fold)
