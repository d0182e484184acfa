"""Fixtures of the leaderboard tests: a tiny store with a cleaned variant, runs, a results folder, a build."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from runs import write_run  # noqa: E402

CLEANED = "cl_test"


@pytest.fixture(scope="session")
def lb_store(tiny_store_path, tmp_path_factory):
    """The tiny store plus a default cleaned variant pruning about 10 % of the facies labels."""
    from facies_bench import schema
    from facies_bench.data.store import open_store

    path = tmp_path_factory.mktemp("lb_store") / "tiny_cleaned.zarr"
    shutil.copytree(tiny_store_path, path)
    store = open_store(path, mode="r+")
    labels = store.labels("raw").copy()
    rng = np.random.default_rng(1)
    prunable = ~np.isin(labels, [schema.class_index(c) for c in schema.NEVER_PRUNED])
    labels[prunable & (rng.random(len(labels)) < 0.1)] = schema.PRUNED
    store.write_label_variant(CLEANED, labels, {"method": "test"}, make_default=True)
    return open_store(path)


@pytest.fixture(scope="session")
def good_run_template(lb_store, tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("runs") / "good", lb_store, model="good_model", skill=2.5)


@pytest.fixture()
def good_run(good_run_template, tmp_path) -> Path:
    """A writable copy of a valid run, for tests that tamper with it."""
    dest = tmp_path / "run"
    shutil.copytree(good_run_template, dest)
    return dest


@pytest.fixture(scope="session")
def board_results(lb_store, tmp_path_factory) -> Path:
    """A results folder: three raw-board entries (two statistically tied, one clearly worse) and
    one entry on the cleaned board."""
    from facies_bench.leaderboard import add_entry

    root = tmp_path_factory.mktemp("board")
    results = root / "results"
    specs = [
        dict(model="alpha_net", skill=2.6, seeds=(0,), features=4, rng_seed=1, n_parameters=1_250_000),
        dict(model="beta_net", skill=2.5, seeds=(0, 1), features=4, rng_seed=2, n_parameters=48_000),
        dict(model="gamma_hgb", skill=0.8, seeds=(0,), features=3, rng_seed=3, n_parameters=None),
        dict(model="delta_cnn", skill=2.0, seeds=(0,), features=4, rng_seed=4, variant=CLEANED, n_parameters=310_000),
    ]
    for spec in specs:
        run = write_run(root / "runs" / spec["model"], lb_store, **spec)
        add_entry(run, results, lb_store, added="2026-02-01T00:00:00+00:00")
    return results


@pytest.fixture(scope="session")
def built_site(board_results, tmp_path_factory) -> Path:
    from facies_bench.leaderboard import build_leaderboard

    out = tmp_path_factory.mktemp("site") / "leaderboard"
    build_leaderboard(board_results, out, generated="2026-02-02 10:00 UTC", dataset_repo="example-org/glacier-facies",
                      include_synthetic_results=True)
    return out
