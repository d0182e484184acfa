"""URL stores: TensorStore's s3 driver against a local S3 server (moto), integrity checks included."""

from __future__ import annotations

import numpy as np
import pytest

from facies_bench.data.store import open_store
from facies_bench.errors import StoreDamagedError

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

BUCKET = "facies-reads"


@pytest.fixture(scope="module")
def server(moto_s3):
    return moto_s3


@pytest.fixture()
def s3(server, tiny_store_path, request):
    """A fresh copy of the tiny store in the bucket, per test."""
    import s3fs

    fs = s3fs.S3FileSystem(**server, skip_instance_cache=True)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    name = f"{request.node.name}.zarr"
    fs.put(str(tiny_store_path), f"{BUCKET}/{name}", recursive=True)
    yield fs, f"s3://{BUCKET}/{name}", dict(server)


def test_s3_store_reads_through_tensorstore(s3, tiny_store):
    _, url, options = s3
    store = open_store(url, storage_options=options)
    assert store._tensorstore("patches") is not None  # TensorStore's own s3 driver, not fsspec
    rows = np.array([575, 3, 300, 3])
    np.testing.assert_array_equal(store.read_patches(rows), tiny_store.read_patches(rows))
    np.testing.assert_array_equal(store.labels(), tiny_store.labels())
    assert store.metadata().equals(tiny_store.metadata())


def test_s3_store_damage_is_refused_and_named(s3):
    fs, url, options = s3
    key = f"{url[5:]}/patches/c/0/0/0/0"
    data = bytearray(fs.cat_file(key))
    data[len(data) // 3:len(data) // 3 + 64] = b"\0" * 64
    fs.pipe_file(key, bytes(data))
    store = open_store(url, storage_options=options)
    with pytest.raises(StoreDamagedError, match="patches/c/0/0/0/0"):
        store.read_patches(slice(0, 256))  # the shard holding the zeroed bytes
    fs.rm_file(f"{url[5:]}/patches/c/1/0/0/0")
    with pytest.raises(StoreDamagedError, match="patches/c/1/0/0/0: chunk file is missing"):
        open_store(url, storage_options=options)
