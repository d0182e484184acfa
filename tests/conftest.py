"""Shared fixtures: tiny synthetic stores built once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def tiny_store_path(tmp_path_factory) -> Path:
    from facies_bench.testing import make_tiny_store

    path = tmp_path_factory.mktemp("stores") / "tiny.zarr"
    make_tiny_store(path, seed=0)
    return path


@pytest.fixture(scope="session")
def tiny_store(tiny_store_path):
    from facies_bench.data.store import open_store

    return open_store(tiny_store_path)


@pytest.fixture()
def tiny_store_copy(tiny_store_path, tmp_path) -> Path:
    """A writable copy of the tiny store, for tests that add label variants."""
    dest = tmp_path / "tiny_copy.zarr"
    shutil.copytree(tiny_store_path, dest)
    return dest


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"reference material not found at {SHARED} (../shared beside the checkout)")
    return SHARED


@pytest.fixture(scope="session")
def moto_s3():
    """A local S3-compatible server (moto) for URL-store tests: the s3fs / TensorStore options."""
    import logging
    import os

    moto_server = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield {"endpoint_url": f"http://{host}:{port}", "key": "testing", "secret": "testing"}
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
