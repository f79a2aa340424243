"""A loopback stand-in for the Hugging Face Hub's file endpoint, for download tests without a network.

It answers ``HEAD`` and ``GET /{repo_id}/resolve/{revision}/{filename}`` the way ``hf_hub_download`` expects:
``ETag``, ``X-Repo-Commit`` (40 hex digits) and ``Content-Length`` headers, and ``X-Error-Code`` on a 404.
Point ``HF_ENDPOINT`` at :attr:`FakeHub.url` before ``huggingface_hub`` is imported.
"""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["FakeHub"]


class FakeHub:
    """Model repos held in memory: ``repo_id -> {commit: {filename: bytes}}`` plus branch names.

    >>> with FakeHub() as hub:
    ...     commit = hub.add_commit("user/model", {"config.json": b"{}"})
    ...     hub.url  # "http://127.0.0.1:PORT"
    """

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, dict[str, bytes]]] = {}
        self.branches: dict[str, dict[str, str]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for assertions
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_commit(self, repo_id: str, files: dict[str, bytes], branch: str = "main") -> str:
        """Add a commit holding ``files`` and move ``branch`` to it; returns the 40-hex commit id."""
        commits = self.repos.setdefault(repo_id, {})
        commit = hashlib.sha1(f"{repo_id}:{len(commits)}".encode()).hexdigest()
        commits[commit] = dict(files)
        self.branches.setdefault(repo_id, {})[branch] = commit
        return commit

    def add_folder(self, repo_id: str, folder: Path, branch: str = "main") -> str:
        """Add a commit with every file of a local folder (e.g. a ``save_pretrained`` output)."""
        return self.add_commit(repo_id, {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()},
                               branch)

    def lookup(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a request path."""
        parts = unquote(urlsplit(path).path).strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return 404, {"X-Error-Code": "RepoNotFound"}, b"not found"
        repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        if repo_id not in self.repos:
            return 404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}, b""
        commit = self.branches[repo_id].get(revision, revision)
        if commit not in self.repos[repo_id]:
            return 404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"}, b""
        files = self.repos[repo_id][commit]
        if filename not in files:
            return 404, {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found",
                         "X-Repo-Commit": commit}, b""
        body = files[filename]
        etag = '"' + hashlib.sha256(body).hexdigest() + '"'
        return 200, {"ETag": etag, "X-Repo-Commit": commit, "Content-Type": "application/octet-stream"}, body


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer(send_body=False)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(send_body=True)

        def _answer(self, send_body: bool) -> None:
            hub.requests.append((self.command, self.path))
            status, headers, body = hub.lookup(self.path)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def log_message(self, *args) -> None:  # keep test output clean
            pass

    return Handler
