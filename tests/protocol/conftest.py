"""Fixtures for the protocol tests: single-threaded torch and a factory for submission files."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture()
def write_submission(tmp_path):
    """Write a submission file; ``{name}`` in the source becomes a unique model name."""
    created: list[str] = []

    def write(source: str, *, filename: str = "submission.py") -> tuple[Path, str]:
        name = f"sub_{uuid.uuid4().hex[:8]}"
        path = tmp_path / filename
        path.write_text(textwrap.dedent(source).replace("{name}", name))
        created.append(name)
        return path, name

    yield write
    from facies_bench.models import list_models, unregister_model

    for name in created:
        for registered in list_models(f"{name}*"):
            unregister_model(registered)
