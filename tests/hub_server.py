"""A Hugging Face Hub on 127.0.0.1 for the tests (no test reaches the network): the protocol
huggingface_hub 1.x speaks to fetch a file (HEAD/GET /<repo>/resolve/<revision>/<file>,
X-Repo-Commit, ETag, X-Error-Code), serving folders <root>/<owner>/<repo>/<revision>/<file>."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest


class Hub(ThreadingHTTPServer):
    """Serves <root>/<owner>/<repo>/<revision>/<file> at {HEAD,GET} /<owner>/<repo>/resolve/<revision
    or its commit>/<file>; `faults[(repo, file)]` makes one file misbehave: "loop" (a redirect to
    itself), "cut" (the body cut after half its bytes, a resumed GET answered 500) or "stall"
    (half the body, then nothing until `release` is set). `log` records (method, path)."""

    daemon_threads = True

    def __init__(self, root: Path):
        super().__init__(("127.0.0.1", 0), Handler)
        self.root, self.log, self.faults, self.release = root, [], {}, threading.Event()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def requests(self, repo: str) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.log if path.startswith(f"/{repo}/")]


def commit_of(folder: Path) -> str:
    """A revision's 40-hex commit, stable while its files are (a file written again is a new commit)."""
    digest = hashlib.sha1(folder.name.encode())
    for f in sorted(folder.iterdir()):
        digest.update(f"{f.name} {f.stat().st_size} {f.stat().st_mtime_ns}".encode())
    return digest.hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Hub

    def log_message(self, *args):
        self.server.log.append((self.command, self.path))

    def reply(self, status: int, headers=(), body: bytes = b""):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code: str, *headers):
        self.reply(404, [("X-Error-Code", code), ("X-Error-Message", code), *headers], code.encode())

    def listing(self, owner: str, name: str, kind: str, revision: str):
        """/api/models/<repo>/revision/<revision> (the repository's files) and .../tree/<revision>
        (their sizes): what `snapshot_download`, and so Keras' own `load_model("hf://...")`, asks."""
        repo_dir = self.server.root / owner / name
        folders = {commit_of(f): f for f in repo_dir.iterdir()} if repo_dir.is_dir() else {}
        folder = repo_dir / revision if (repo_dir / revision).is_dir() else folders.get(revision)
        if folder is None or kind not in ("revision", "tree"):
            return self.error("RepoNotFound")
        files = sorted(f for f in folder.iterdir() if f.is_file())
        info = ({"id": f"{owner}/{name}", "sha": commit_of(folder), "siblings": [{"rfilename": f.name} for f in files]}
                if kind == "revision" else
                [{"type": "file", "path": f.name, "size": f.stat().st_size,
                  "oid": hashlib.sha1(f.read_bytes()).hexdigest()} for f in files])
        self.reply(200, [("Content-Type", "application/json")], json.dumps(info).encode())

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/")[1:]]
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and ".." not in parts:
            return self.listing(*parts[2:6])
        if len(parts) < 5 or parts[2] != "resolve" or ".." in parts:
            return self.reply(404, body=b"not a Hub route")
        owner, name, _, revision, *rest = parts
        repo_dir = self.server.root / owner / name
        if not repo_dir.is_dir():
            return self.error("RepoNotFound")
        folders = {commit_of(f): f for f in repo_dir.iterdir()}
        folder = repo_dir / revision if (repo_dir / revision).is_dir() else folders.get(revision)
        if folder is None:
            return self.error("RevisionNotFound")
        commit = ("X-Repo-Commit", commit_of(folder))
        path = folder.joinpath(*rest)
        if not path.is_file():
            return self.error("EntryNotFound", commit)
        fault = self.server.faults.get((f"{owner}/{name}", "/".join(rest)))
        if fault == "loop":
            return self.reply(302, [commit, ("Location", self.path)])
        data = path.read_bytes()
        headers = [commit, ("ETag", f'"{hashlib.sha256(data).hexdigest()}"')]
        if self.command == "GET" and fault == "cut" and "Range" in self.headers:
            return self.reply(500, [("X-Error-Message", "resume refused")], b"resume refused")
        if self.command == "GET" and fault in ("cut", "stall"):
            self.send_response(200)
            for key, value in [*headers, ("Content-Length", str(len(data)))]:
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if fault == "stall":
                self.server.release.wait(60)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        self.reply(200, headers, data)


@contextmanager
def serving(root: Path, cache: Path) -> Iterator[Hub]:
    """The Hub serving `root`, with huggingface_hub pointed at it (HF_ENDPOINT), a cache of its own
    and nothing asked of huggingface.co, until the block ends."""
    import huggingface_hub.constants as hf_constants

    hub_server = Hub(root)
    threading.Thread(target=hub_server.serve_forever, daemon=True).start()
    with pytest.MonkeyPatch.context() as m:
        m.setenv("HF_ENDPOINT", hub_server.endpoint)
        m.setenv("HF_HUB_CACHE", str(cache))
        for name in ("HF_HUB_DISABLE_TELEMETRY", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_HUB_DISABLE_XET"):
            m.setenv(name, "1")
        m.delenv("HF_HUB_OFFLINE", raising=False)
        # huggingface_hub read its environment when it was imported (collection, or another test file):
        # its settings as these variables give them, so that nothing asks huggingface.co for its agent list
        for name, value in (("HF_HUB_DISABLE_TELEMETRY", True), ("HF_HUB_DISABLE_PROGRESS_BARS", True),
                            ("HF_HUB_DISABLE_XET", True), ("HF_HUB_OFFLINE", False)):
            m.setattr(hf_constants, name, value)
        # and its endpoint, for the callers that take huggingface_hub's default (Keras' own hf:// loading)
        m.setattr(hf_constants, "ENDPOINT", hub_server.endpoint)
        m.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                  hub_server.endpoint + "/{repo_id}/resolve/{revision}/{filename}")
        try:
            yield hub_server
        finally:
            hub_server.release.set()
            hub_server.shutdown()
            hub_server.server_close()
