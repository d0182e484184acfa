"""Fixtures for model tests: a registry restored after each test, the published-model folder."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "baselines"


@pytest.fixture()
def clean_registry():
    """Restore the model registry (entries and entry-point flag) after the test."""
    from facies_bench.models import _registry

    saved, loaded = dict(_registry._REGISTRY), _registry._ENTRY_POINTS_LOADED
    yield _registry
    _registry._REGISTRY.clear()
    _registry._REGISTRY.update(saved)
    _registry._ENTRY_POINTS_LOADED = loaded


@pytest.fixture(scope="session")
def baselines_dir() -> Path:
    return BASELINES


@pytest.fixture(scope="session")
def published_models(shared_dir) -> Path:
    path = shared_dir / "reference" / "published_models"
    if not (path / "io_pairs").is_dir():
        pytest.skip(f"published Keras models not found at {path} (needs ../shared/reference/published_models)")
    return path
