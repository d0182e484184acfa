"""facies_bench.data.download against a local HTTP server on 127.0.0.1 (never Zenodo)."""

from __future__ import annotations

import hashlib
import io
import json
import random
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from facies_bench.data.download import download_file, download_release, fetch_record
from facies_bench.errors import DownloadError

RECORD = "18469893"


def _archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("patches/0_Sex Rouge_20190812_0_ice.tif", b"x" * 5000)
        zf.writestr("patches/README.md", "fake release")
        zf.writestr("patches/filler.bin", random.Random(0).randbytes(200_000))  # incompressible: a sizeable archive
    return buf.getvalue()


class _Server:
    """Serves a fake record and its files; can cut transfers short and corrupt checksums."""

    def __init__(self):
        self.files = {"glacier_facies_patches.zip": _archive(), "scenes.csv": b"glacier,date,sensor\nAdler,2011-08-01,Landsat 5\n"}
        self.cut_after: dict[str, int] = {}  # key -> bytes to send before closing (once)
        self.bad_checksum: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Range")))
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                if self.path == f"/api/records/{RECORD}":
                    entries = [{"key": k, "size": len(v),
                                "checksum": "md5:" + (hashlib.md5(v).hexdigest() if k not in outer.bad_checksum else "0" * 32),
                                "links": {"self": f"{base}/files/{k}"}} for k, v in outer.files.items()]
                    body = json.dumps({"id": RECORD, "metadata": {"title": "fake"}, "files": entries}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                key = self.path.rsplit("/", 1)[-1]
                if not self.path.startswith("/files/") or key not in outer.files:
                    self.send_error(404)
                    return
                data = outer.files[key]
                start = 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                payload = data[start:]
                cut = outer.cut_after.pop(key, None)
                if cut is not None:
                    self.wfile.write(payload[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture()
def server():
    with _Server() as s:
        yield s


def test_record_listing(server):
    data, files = fetch_record(RECORD, base_url=server.base_url)
    assert data["metadata"]["title"] == "fake"
    assert {f.key for f in files} == set(server.files)
    assert all(f.algorithm == "md5" for f in files)


def test_download_verifies_and_unpacks(server, tmp_path):
    download_release(tmp_path, record=RECORD, base_url=server.base_url, progress=False)
    for key, data in server.files.items():
        assert (tmp_path / key).read_bytes() == data
    assert (tmp_path / "glacier_facies_patches" / "patches" / "0_Sex Rouge_20190812_0_ice.tif").exists()
    assert not list(tmp_path.glob("*.part"))
    again = download_release(tmp_path, record=RECORD, base_url=server.base_url, progress=False)
    assert sorted(again.skipped) == sorted(server.files)
    assert len([r for r in server.requests if r[0].startswith("/files/")]) == len(server.files)


def test_interrupted_transfer_is_resumed_with_range(server, tmp_path):
    key = "glacier_facies_patches.zip"
    server.cut_after[key] = 70_000
    _, files = fetch_record(RECORD, base_url=server.base_url)
    f = next(f for f in files if f.key == key)
    # first call: no retries allowed -> error, partial kept, nothing under the final name
    with pytest.raises(DownloadError, match="run the download again to resume"):
        download_file(f, tmp_path, retries=0, progress=False)
    assert not (tmp_path / key).exists()
    assert (tmp_path / f"{key}.part").stat().st_size == 70_000
    # second call resumes from byte 70,000
    path = download_file(f, tmp_path, progress=False)
    assert path.read_bytes() == server.files[key]
    assert server.requests[-1] == (f"/files/{key}", "bytes=70000-")
    assert not (tmp_path / f"{key}.part").exists()


def test_broken_transfer_resumes_within_one_call(server, tmp_path):
    key = "glacier_facies_patches.zip"
    server.cut_after[key] = 1234
    result = download_release(tmp_path, record=RECORD, base_url=server.base_url, progress=False, extract=False)
    assert (tmp_path / key).read_bytes() == server.files[key]
    assert (f"/files/{key}", "bytes=1234-") in server.requests
    assert result.extracted == []


def test_bad_checksum_leaves_no_file(server, tmp_path):
    server.bad_checksum.add("scenes.csv")
    with pytest.raises(DownloadError, match="scenes.csv .* is corrupt: md5 [0-9a-f]{32}, the record says 0{32}"):
        download_release(tmp_path, record=RECORD, base_url=server.base_url, progress=False)
    assert not (tmp_path / "scenes.csv").exists()
    assert not (tmp_path / "scenes.csv.part").exists()


def test_existing_corrupt_final_file_is_replaced(server, tmp_path):
    (tmp_path / "scenes.csv").write_bytes(b"tampered")
    download_release(tmp_path, record=RECORD, base_url=server.base_url, progress=False)
    assert (tmp_path / "scenes.csv").read_bytes() == server.files["scenes.csv"]


def test_unknown_record_and_unreachable_server(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404.*record id '999'"):
        fetch_record("999", base_url=server.base_url)
    with pytest.raises(DownloadError, match="Cannot reach the release record"):
        fetch_record(RECORD, base_url="http://127.0.0.1:9/api")
