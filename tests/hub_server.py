"""A Hugging Face hub on 127.0.0.1 for the tests: the endpoints huggingface_hub's
``snapshot_download`` and ``hf_hub_download`` call, serving model repositories from folders.

- ``GET /api/models/{repo}/revision/{rev}``: the commit a branch, tag or commit resolves to;
- ``GET /api/models/{repo}/tree/{commit}``: the files (path, size, git blob id, LFS sha256);
- ``HEAD|GET /{repo}/resolve/{rev}/{file}``: a file, with ``X-Repo-Commit``, ``ETag``
  (``X-Linked-Etag`` for LFS files) and ``Content-Length``.

Every request is logged in ``Hub.requests``; unknown repositories and revisions get the hub's
404 with its ``X-Error-Code``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    """A repository's commits (commit -> {path: bytes}) and refs (branch/tag -> commit)."""

    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    def push(self, folder: Path, ref: str = "main") -> str:
        """Commit every file of ``folder`` and point ``ref`` at it; returns the commit."""
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        digest = hashlib.sha1(
            json.dumps(sorted((k, _blob_id(v)) for k, v in files.items())).encode()
        )
        commit = digest.hexdigest()
        self.commits[commit] = files
        self.refs[ref] = commit
        return commit

    def resolve(self, rev: str) -> str | None:
        return rev if rev in self.commits else self.refs.get(rev)


class Hub:
    """The repositories served and the requests received."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def repo(self, repo_id: str) -> Repo:
        return self.repos.setdefault(repo_id, Repo())


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _send(self, code: int, body: bytes, headers: dict[str, str], head: bool) -> None:
            self.send_response(code)
            for k, v in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _missing(self, what: str, head: bool) -> None:
            body = json.dumps({"error": f"{what} not found"}).encode()
            self._send(404, body, {"X-Error-Code": what, "Content-Type": "application/json"}, head)

        def _api(self, path: str, head: bool) -> None:
            rest = path[len("/api/models/") :]
            kind = "/revision/" if "/revision/" in rest else "/tree/"
            repo_id, _, rev = rest.partition(kind)
            repo = hub.repos.get(repo_id)
            if repo is None:
                return self._missing("RepoNotFound", head)
            commit = repo.resolve(unquote(rev.split("/", 1)[0]))
            if commit is None:
                return self._missing("RevisionNotFound", head)
            files = repo.commits[commit]
            if kind == "/revision/":
                siblings = [{"rfilename": p} for p in files]
                body = {"id": repo_id, "modelId": repo_id, "sha": commit, "siblings": siblings}
            else:
                body = [self._entry(p, data) for p, data in files.items()]
            self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"}, head)

        @staticmethod
        def _entry(path: str, data: bytes) -> dict[str, object]:
            entry: dict[str, object] = {
                "type": "file",
                "path": path,
                "size": len(data),
                "oid": _blob_id(data),
            }
            if path.endswith(LFS_SUFFIXES):
                sha = hashlib.sha256(data).hexdigest()
                entry["lfs"] = {"oid": sha, "size": len(data), "pointerSize": 134}
            return entry

        def _resolve(self, path: str, head: bool) -> None:
            repo_part, _, rest = path[1:].partition("/resolve/")
            rev, _, filename = rest.partition("/")
            repo = hub.repos.get(repo_part)
            if repo is None:
                return self._missing("RepoNotFound", head)
            commit = repo.resolve(unquote(rev))
            if commit is None:
                return self._missing("RevisionNotFound", head)
            data = repo.commits[commit].get(unquote(filename))
            if data is None:
                return self._missing("EntryNotFound", head)
            headers = {"X-Repo-Commit": commit, "Content-Type": "application/octet-stream"}
            if filename.endswith(LFS_SUFFIXES):
                sha = hashlib.sha256(data).hexdigest()
                headers["X-Linked-Etag"] = f'"{sha}"'
                headers["X-Linked-Size"] = str(len(data))
                headers["ETag"] = f'"{_blob_id(data)}"'
            else:
                headers["ETag"] = f'"{_blob_id(data)}"'
            self._send(200, data, headers, head)

        def _serve(self, head: bool) -> None:
            path = urlsplit(self.path).path
            with hub.lock:
                hub.requests.append(f"{self.command} {path}")
            if path.startswith("/api/models/"):
                self._api(path, head)
            elif "/resolve/" in path:
                self._resolve(path, head)
            else:
                self._missing("NotFound", head)

        def do_GET(self) -> None:
            self._serve(head=False)

        def do_HEAD(self) -> None:
            self._serve(head=True)

    return Handler


def go_online(monkeypatch: Any, endpoint: str, cache: Path) -> None:
    """Let this process reach the hub at ``endpoint`` (the suite runs with HF_HUB_OFFLINE=1),
    caching under ``cache``, for the rest of the test."""
    import huggingface_hub.constants as hc

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hc, "ENDPOINT", endpoint)  # both read from HF_ENDPOINT at import
    monkeypatch.setattr(
        hc, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))


class HubServer:
    """``Hub`` served over HTTP on 127.0.0.1 (a free port) in a thread, until ``close``."""

    def __init__(self) -> None:
        self.hub = Hub()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.hub))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
