"""Publishing: the dry-run listing, one commit with every file, and clear errors that change nothing.

Nothing here reaches the Hub: the "unreachable" endpoint is a closed local port and the
"rejecting" Hub is a local HTTP server.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import huggingface_hub
import pytest

from facies_bench.cli.main import main
from facies_bench.errors import PublishError
from facies_bench.leaderboard import publish


def _snapshot(root):
    return sorted((p.relative_to(root).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


def _site_files(site):
    return sorted(p for p in site.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(site).parts))


def test_dry_run_lists_exactly_the_files_and_the_commit(built_site, capsys):
    before = _snapshot(built_site)
    rc = main(["leaderboard", "publish", "--repo-id", "example-org/facies-leaderboard", "--dir", str(built_site), "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("Would commit ") and "space example-org/facies-leaderboard" in lines[0]
    assert lines[1] == "commit message: Update leaderboard: 4 entries on 2 boards (protocol 1.0)"
    listed = {line.split("\t")[0]: line.split("\t")[1:] for line in lines[2:]}
    files = _site_files(built_site)
    assert set(listed) == {p.relative_to(built_site).as_posix() for p in files}
    for path in files:
        size, sha = listed[path.relative_to(built_site).as_posix()]
        assert int(size) == path.stat().st_size
        assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    assert {"README.md", "index.html", "eval.yaml", "leaderboard.json"} <= set(listed)
    assert any(p.startswith("results/") and p.endswith("seed0.parquet") for p in listed)
    assert _snapshot(built_site) == before


def test_dataset_repo_keeps_the_card_and_puts_eval_yaml_at_the_root(built_site):
    plan = publish(built_site, "example-org/glacier-facies", repo_type="dataset", dry_run=True)
    paths = [f.path_in_repo for f in plan.files]
    assert "eval.yaml" in paths and "README.md" not in paths
    assert all(p == "eval.yaml" or p.startswith("leaderboard/") for p in paths)


def test_one_commit_holds_every_file(built_site, monkeypatch):
    calls = []
    monkeypatch.setattr(huggingface_hub.HfApi, "whoami", lambda self, **kw: {"name": "tester"})
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create_repo", repo_id, kw)))

    def create_commit(self, repo_id, operations, **kw):
        calls.append(("create_commit", repo_id, [op.path_in_repo for op in operations], kw))
        return type("CommitInfo", (), {"commit_url": "https://example.invalid/commit/abc"})()
    monkeypatch.setattr(huggingface_hub.HfApi, "create_commit", create_commit)
    plan = publish(built_site, "example-org/facies-leaderboard", token="hf_test")
    commits = [c for c in calls if c[0] == "create_commit"]
    assert len(commits) == 1
    assert commits[0][2] == [f.path_in_repo for f in plan.files]
    assert commits[0][3]["repo_type"] == "space" and commits[0][3]["commit_message"] == plan.commit_message
    assert calls[0] == ("create_repo", "example-org/facies-leaderboard", {"repo_type": "space", "exist_ok": True, "space_sdk": "static"})
    assert plan.commit_url == "https://example.invalid/commit/abc"


def test_missing_token_is_a_clear_error_and_changes_nothing(built_site, monkeypatch, capsys):
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    before = _snapshot(built_site)
    with pytest.raises(PublishError, match="No Hugging Face token.*HF_TOKEN"):
        publish(built_site, "example-org/facies-leaderboard")
    rc = main(["leaderboard", "publish", "--repo-id", "example-org/facies-leaderboard", "--dir", str(built_site)])
    assert rc == 2 and "No Hugging Face token" in capsys.readouterr().err
    assert _snapshot(built_site) == before


def test_unreachable_hub_is_a_clear_error(built_site):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    before = _snapshot(built_site)
    with pytest.raises(PublishError, match="Cannot reach the Hugging Face Hub"):
        publish(built_site, "example-org/facies-leaderboard", token="hf_test", endpoint=f"http://127.0.0.1:{port}")
    assert _snapshot(built_site) == before


class _RejectingHub(BaseHTTPRequestHandler):
    def _reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        if self.path.startswith("/api/whoami"):
            self._reply(200, {"name": "tester", "type": "user"})
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply(403, {"error": "You don't have the rights to create a space under the namespace 'example-org'"})

    def log_message(self, *args):
        pass


def test_rejected_push_is_a_clear_error(built_site):
    server = HTTPServer(("127.0.0.1", 0), _RejectingHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    before = _snapshot(built_site)
    try:
        with pytest.raises(PublishError, match=r"rejected the push.*HTTP 403"):
            publish(built_site, "example-org/facies-leaderboard", token="hf_test",
                    endpoint=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert _snapshot(built_site) == before


@pytest.mark.parametrize("repo_id", ["no-slash", "a/b/c", ""])
def test_bad_repo_id_is_refused(built_site, repo_id):
    with pytest.raises(PublishError, match="OWNER/NAME"):
        publish(built_site, repo_id, dry_run=True)


def test_unbuilt_folder_is_refused(tmp_path):
    with pytest.raises(PublishError, match="leaderboard build"):
        publish(tmp_path, "example-org/facies-leaderboard", dry_run=True)
