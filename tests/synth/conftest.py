"""A small synthetic store built once for the synth tests (scale 0.01: 1,376 labels, 92 scenes)."""

from __future__ import annotations

import pytest

SCALE = 0.01


@pytest.fixture(scope="session")
def synth_store(tmp_path_factory):
    from facies_bench.synth import generate_store

    return generate_store(tmp_path_factory.mktemp("synth") / "synth.zarr", scale=SCALE, seed=0)
