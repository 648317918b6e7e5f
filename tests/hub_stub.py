"""A loopback stand-in for the Hugging Face Hub, for exercising huggingface_hub client paths
offline (``HF_ENDPOINT`` pointed at it).

It keeps repositories (model / dataset / space) in memory and answers the routes the client
uses to publish and read: ``whoami-v2``, ``repos/create``, ``validate-yaml``, ``preupload``
(every file 'regular', so content travels inline in the commit and no LFS/Xet server is
needed), ``commit`` (NDJSON), ``settings`` (gated / private), repo info, and ``resolve`` (HEAD
and GET of a file). Access follows the Hub: a missing or private repo is 404 ``RepoNotFound``
(401 without a token), a gated repo is 401 ``GatedRepo`` without a token and 403 for a user who
was not granted access (owners always are). Every request is recorded (method, path, user;
never the token).

Bounded: the server thread serves until :meth:`HubStub.stop`, or stops itself after
``lifetime`` seconds or ``max_requests`` requests, so a broken test cannot hang.

Usage::

    with HubStub(tokens={"hf_writer": "alice"}) as hub:
        api = HfApi(endpoint=hub.url, token="hf_writer")
        ...
        hub.requests  # [Request(method, path, user, status), ...]

and ``hub.patch_environment(monkeypatch)`` to point huggingface_hub and datasets at it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_API_REPO = re.compile(
    r"^/api/(?P<types>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"
    r"(?:/(?P<action>preupload|commit|settings|revision)(?:/(?P<rev>[^/]+))?)?/?$"
)
_RESOLVE = re.compile(
    r"^/(?:(?P<types>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"
)


@dataclass
class Repo:
    """One stored repository."""

    repo_type: str
    repo_id: str
    owner: str
    private: bool = False
    gated: str | bool = False
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return self.commits[-1]["oid"] if self.commits else "0" * 40


@dataclass(frozen=True)
class Request:
    """A request the stub received (the token itself is never kept)."""

    method: str
    path: str
    user: str | None
    status: int


class HubStub:
    """The loopback Hub. ``tokens`` maps access tokens to user names."""

    def __init__(
        self,
        tokens: dict[str, str] | None = None,
        *,
        lifetime: float = 60.0,
        max_requests: int = 2000,
    ) -> None:
        self.tokens = dict(tokens or {})
        self.repos: dict[tuple[str, str], Repo] = {}
        self.granted: set[tuple[str, str]] = set()  # (user, repo_id)
        self.requests: list[Request] = []
        self.lifetime = lifetime
        self.max_requests = max_requests
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> HubStub:
        self._deadline = time.monotonic() + self.lifetime
        self._thread.start()
        return self

    def _serve(self) -> None:
        self._server.timeout = 0.2
        while time.monotonic() < self._deadline and len(self.requests) < self.max_requests:
            self._server.handle_request()
            if getattr(self, "_stopping", False):
                break
        self._server.server_close()

    def stop(self) -> None:
        self._stopping = True
        self._thread.join(timeout=5)

    def __enter__(self) -> HubStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def patch_environment(self, monkeypatch: Any) -> None:
        """Point huggingface_hub and datasets at the stub (both read HF_ENDPOINT at import)."""
        import datasets.config
        from huggingface_hub import constants

        monkeypatch.setenv("HF_ENDPOINT", self.url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        monkeypatch.setattr(constants, "ENDPOINT", self.url)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            self.url + "/{repo_id}/resolve/{revision}/{filename}",
        )
        monkeypatch.setattr(datasets.config, "HF_ENDPOINT", self.url)
        monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)

    # -- test helpers ---------------------------------------------------------------------------
    def add_repo(
        self,
        repo_id: str,
        *,
        repo_type: str = "model",
        owner: str = "someone",
        files: dict[str, bytes] | None = None,
        gated: str | bool = False,
        private: bool = False,
    ) -> Repo:
        """Create a repository directly (e.g. a model whose README a test will update)."""
        repo = Repo(repo_type, repo_id, owner, private=private, gated=gated)
        if files:
            repo.files.update(files)
            repo.commits.append({"oid": _oid(repr(sorted(files))), "message": "initial"})
        self.repos[(repo_type, repo_id)] = repo
        return repo

    def grant(self, user: str, repo_id: str) -> None:
        """Accept ``user``'s access request to a gated repository."""
        self.granted.add((user, repo_id))

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        return self.repos[(repo_type, repo_id)]


def _oid(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _handler_for(hub: HubStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        # -- plumbing ---------------------------------------------------------------------------
        def _user(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
            return hub.tokens.get(token) if token else None

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(
            self,
            status: int,
            payload: Any = None,
            *,
            headers: dict[str, str] | None = None,
            raw: bytes | None = None,
        ) -> None:
            data = raw if raw is not None else json.dumps(payload or {}).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/json" if raw is None else "application/octet-stream"
            )
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            with hub._lock:
                hub.requests.append(Request(self.command, self.path, self._user(), status))

        def _error(self, status: int, code: str | None, message: str) -> None:
            headers = {"X-Error-Message": message}
            if code:
                headers["X-Error-Code"] = code
            self._send(status, {"error": message}, headers=headers)

        def _readable(self, repo: Repo | None, user: str | None) -> bool:
            """Answer an access error like the Hub and return False, or return True."""
            if repo is None or (repo.private and user != repo.owner):
                if user is None:
                    self._error(401, "RepoNotFound", "Invalid username or password.")
                else:
                    self._error(404, "RepoNotFound", "Repository not found")
                return False
            if repo.gated and user != repo.owner and (user, repo.repo_id) not in hub.granted:
                message = f"Access to {repo.repo_type} {repo.repo_id} is restricted."
                if user is None:
                    self._error(401, "GatedRepo", message + " You must be authenticated.")
                else:
                    self._error(403, "GatedRepo", message + " You must have access to it.")
                return False
            return True

        def _writable(self, repo: Repo | None, user: str | None) -> bool:
            if user is None:
                self._error(401, None, "Invalid credentials in Authorization header")
                return False
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found")
                return False
            if user != repo.owner:
                self._error(403, None, "You don't have the rights to write to this repository")
                return False
            return True

        # -- routes -----------------------------------------------------------------------------
        def do_GET(self) -> None:
            self._route()

        def do_HEAD(self) -> None:
            self._route()

        def do_POST(self) -> None:
            self._route()

        def do_PUT(self) -> None:
            self._route()

        def _route(self) -> None:
            path = self.path.split("?", 1)[0]
            user = self._user()
            if path == "/api/whoami-v2":
                if user is None:
                    return self._error(401, None, "Invalid credentials in Authorization header")
                return self._send(
                    200,
                    {
                        "type": "user",
                        "name": user,
                        "orgs": [],
                        "auth": {"type": "access_token", "accessToken": {"role": "write"}},
                    },
                )
            if path == "/api/repos/create" and self.command == "POST":
                return self._create(user)
            if path == "/api/validate-yaml" and self.command == "POST":
                self._body()
                return self._send(200, {"errors": [], "warnings": []})
            match = _API_REPO.match(path)
            if match:
                repo_type = _TYPES[match["types"]]
                repo = hub.repos.get((repo_type, match["repo"]))
                return self._api(repo, user, match["action"])
            match = _RESOLVE.match(path)
            if match:
                repo_type = _TYPES.get(match["types"] or "models", "model")
                repo = hub.repos.get((repo_type, match["repo"]))
                return self._resolve(repo, user, match["path"])
            return self._error(404, None, f"no route for {self.command} {path}")

        def _create(self, user: str | None) -> None:
            payload = json.loads(self._body() or b"{}")
            if user is None:
                return self._error(401, None, "Invalid credentials in Authorization header")
            repo_type = payload.get("type") or "model"
            repo_id = f"{payload.get('organization') or user}/{payload['name']}"
            prefix = "" if repo_type == "model" else f"{repo_type}s/"
            url = f"{hub.url}/{prefix}{repo_id}"
            if (repo_type, repo_id) in hub.repos:  # the Hub's 409 still carries the url
                message = "You already created this repo"
                return self._send(
                    409, {"error": message, "url": url}, headers={"X-Error-Message": message}
                )
            private = payload.get("visibility", "public") == "private" or bool(
                payload.get("private")
            )
            hub.repos[(repo_type, repo_id)] = Repo(repo_type, repo_id, user, private=private)
            return self._send(200, {"url": url, "name": repo_id, "id": repo_id})

        def _api(self, repo: Repo | None, user: str | None, action: str | None) -> None:
            if action is None or action == "revision":
                if self.command != "GET" or not self._readable(repo, user):
                    return None if self.command == "GET" else self._error(405, None, "method")
                assert repo is not None
                return self._send(
                    200,
                    {
                        "id": repo.repo_id,
                        "sha": repo.sha,
                        "private": repo.private,
                        "gated": repo.gated,
                        "disabled": False,
                        "siblings": [{"rfilename": name} for name in sorted(repo.files)],
                    },
                )
            body = self._body()
            if not self._writable(repo, user):
                return None
            assert repo is not None
            if action == "settings":
                settings = json.loads(body or b"{}")
                if "gated" in settings:
                    repo.gated = settings["gated"]
                if "private" in settings:
                    repo.private = bool(settings["private"])
                if "visibility" in settings:
                    repo.private = settings["visibility"] == "private"
                return self._send(200, {})
            if action == "preupload":
                files = json.loads(body)["files"]
                return self._send(
                    200,
                    {
                        "files": [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                            for f in files
                        ]
                    },
                )
            # commit: NDJSON header + file / deletedFile lines
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            header = next(line["value"] for line in lines if line["key"] == "header")
            added, deleted = [], []
            for line in lines:
                if line["key"] == "file":
                    value = line["value"]
                    repo.files[value["path"]] = base64.b64decode(value["content"])
                    added.append(value["path"])
                elif line["key"] in {"deletedFile", "deletedFolder"}:
                    removed = line["value"]["path"]
                    for name in [n for n in repo.files if n == removed or n.startswith(removed)]:
                        del repo.files[name]
                    deleted.append(removed)
                elif line["key"] == "lfsFile":
                    return self._error(400, None, "the stub stores regular files only")
            oid = _oid(f"{repo.sha}{header.get('summary')}{sorted(added)}{sorted(deleted)}")
            repo.commits.append(
                {"oid": oid, "message": header.get("summary"), "added": added, "deleted": deleted}
            )
            prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
            return self._send(
                200,
                {
                    "commitUrl": f"{hub.url}/{prefix}{repo.repo_id}/commit/{oid}",
                    "commitOid": oid,
                    "pullRequestUrl": None,
                },
            )

        def _resolve(self, repo: Repo | None, user: str | None, name: str) -> None:
            if not self._readable(repo, user):
                return None
            assert repo is not None
            if name not in repo.files:
                return self._error(404, "EntryNotFound", f"{name} does not exist")
            data = repo.files[name]
            etag = f'"{hashlib.sha1(data).hexdigest()}"'
            return self._send(200, raw=data, headers={"ETag": etag, "X-Repo-Commit": repo.sha})

    return Handler
