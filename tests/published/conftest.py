"""A loopback HTTP server that serves copies of ../shared's published files in the upstream layout."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from facies_bench.published import files

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "published_models"


def shared_copy(name: str) -> Path:
    """The ../shared copy of a published single model's weights (``fs4/fold0`` -> fs4/fold0_after.h5)."""
    fs, fold = name.split("/")
    stem = fold.replace("-before", "_before") if fold.endswith("-before") else f"{fold}_after"
    return SHARED / fs / f"{stem}.h5"


def _require_shared() -> None:
    if not (SHARED / "SHA256SUMS").is_file():
        pytest.skip(f"the authors' published models are not in {SHARED} (../shared/reference/published_models)")


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """../shared/reference/published_models (skips the test when it is absent)."""
    _require_shared()
    return SHARED


@pytest.fixture(scope="session")
def published_tree(tmp_path_factory) -> Path:
    """``<root>/<repository>/<commit>/<path>`` for every published weights and calibration file."""
    _require_shared()
    root = tmp_path_factory.mktemp("upstream")
    base = root / files.REPOSITORY / files.COMMIT
    for name, f in files.WEIGHTS.items():
        (base / f.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_copy(name), base / f.path)
    for k, f in files.CALIBRATION.items():
        (base / f.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED / "calibration" / f"fold{k}.pickle", base / f.path)
    return root


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="session")
def published_server(published_tree):
    """Base URL of a 127.0.0.1 server over :func:`published_tree`, plus its request log."""
    requests_seen: list[str] = []

    class Handler(_QuietHandler):
        def do_GET(self):
            requests_seen.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(published_tree)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests_seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def published_env(published_server, tmp_path, monkeypatch):
    """An empty cache and the loopback server as the upstream host."""
    url, seen = published_server
    monkeypatch.setenv("FACIES_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(files.BASE_URL_ENV, url)
    seen.clear()
    return seen
