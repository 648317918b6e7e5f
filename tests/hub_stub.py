"""A loopback stand-in for the Hugging Face Hub, for exercising huggingface_hub client paths
offline (``HF_ENDPOINT`` pointed at it).

It keeps repositories (model / dataset / space) in memory and answers the routes the client
uses to publish and read, as the Hub answers them (hub-docs and huggingface_hub's parsing
code): ``whoami-v2`` (with the token's role and orgs), ``repos/create``, ``validate-yaml``,
``preupload`` (every file 'regular', so content travels inline in the commit and no LFS/Xet
server is needed; the oid of files already there, so unchanged files are skipped),
``commit`` (NDJSON; ``create_pr=1`` opens ``refs/pr/N`` and leaves main alone), ``settings``
(gated / private / visibility), repo info (``/revision/{rev}`` too), ``tree`` and
``paths-info`` listings, ``resolve`` (HEAD and GET of a file, with byte ranges), and a
dataset's ``leaderboard`` (what :attr:`HubStub.leaderboards` holds for it; a dataset with none
is not a registered benchmark: 404 without an error code, as for an unknown route).

Access follows the Hub: a missing or private repo is 404 ``RepoNotFound`` (401 without a
token); a gated repo's info and file listing are public, while its files are 401 ``GatedRepo``
without a token and 403 for a user who was not granted access (owners always are). Writes need
a token with the write role whose user owns the repo (or is in its org).

Every request is recorded (method, path, user; never the token), and every commit records the
repository's visibility and gating at the moment it landed, so a test can prove that no data
was ever public and ungated. :meth:`HubStub.fail` makes a route fail once, as a failing Hub
would (optionally echoing the request's Authorization header, as some proxies do).

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
    r"(?:/(?P<action>preupload|commit|settings|revision|tree|paths-info)"
    r"(?:/(?P<rev>(?:refs%2Fpr%2F\d+)|[^/]+)(?:/(?P<path>.*))?)?)?/?$"
)
_RESOLVE = re.compile(
    r"^/(?:(?P<types>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)/resolve/"
    r"(?P<rev>(?:refs%2Fpr%2F\d+)|[^/]+)/(?P<path>.+)$"
)
_LEADERBOARD = re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/leaderboard/?$")
_PR_REVISION = re.compile(r"^refs(?:%2F|/)pr(?:%2F|/)(\d+)$")


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
    #: Pull requests: number -> the files of refs/pr/N.
    prs: dict[int, dict[str, bytes]] = field(default_factory=dict)
    #: (event, private, gated) after every change of the repository, in order.
    history: list[tuple[str, bool, str | bool]] = field(default_factory=list)

    @property
    def sha(self) -> str:
        main = [c for c in self.commits if c.get("revision", "main") == "main"]
        return main[-1]["oid"] if main else "0" * 40

    def record(self, event: str) -> None:
        self.history.append((event, self.private, self.gated))

    def files_at(self, revision: str) -> dict[str, bytes] | None:
        """The files of a revision: main (or its sha), or refs/pr/N; None if unknown."""
        if revision in {"main", self.sha}:
            return self.files
        match = _PR_REVISION.match(revision)
        return self.prs.get(int(match.group(1))) if match else None


@dataclass
class Failure:
    """A route made to fail: the next ``times`` requests whose method and path match."""

    method: str
    path: re.Pattern[str]
    status: int
    message: str
    echo_authorization: bool
    times: int


@dataclass(frozen=True)
class Request:
    """A request the stub received (the token itself is never kept)."""

    method: str
    path: str
    user: str | None
    status: int
    size: int = 0  # bytes of the response body


class HubStub:
    """The loopback Hub. ``tokens`` maps access tokens to user names."""

    def __init__(
        self,
        tokens: dict[str, str] | None = None,
        *,
        read_only: set[str] | None = None,
        orgs: dict[str, set[str]] | None = None,
        lifetime: float = 60.0,
        max_requests: int = 2000,
    ) -> None:
        self.tokens = dict(tokens or {})
        self.read_only = set(read_only or ())  # tokens with the 'read' role
        self.orgs = {org: set(members) for org, members in (orgs or {}).items()}
        self.failures: list[Failure] = []
        self.repos: dict[tuple[str, str], Repo] = {}
        self.granted: set[tuple[str, str]] = set()  # (user, repo_id)
        self.requests: list[Request] = []
        #: Dataset id -> its leaderboard, the JSON list ``/api/datasets/{id}/leaderboard``
        #: answers (entries as the Hub sends them: rank, modelId, value, filename, ...).
        self.leaderboards: dict[str, list[dict[str, Any]]] = {}
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
        point_hub_clients_at(self.url, monkeypatch)

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
            repo.commits.append(
                {
                    "oid": _oid(repr(sorted(files))),
                    "message": "initial",
                    "revision": "main",
                    "private": private,
                    "gated": gated,
                }
            )
        self.repos[(repo_type, repo_id)] = repo
        return repo

    def fail(
        self,
        method: str,
        path: str,
        status: int = 500,
        message: str = "Internal Error",
        *,
        echo_authorization: bool = False,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` requests matching ``method`` and the regex ``path`` fail."""
        self.failures.append(
            Failure(method, re.compile(path), status, message, echo_authorization, times)
        )

    def member(self, user: str | None, namespace: str) -> bool:
        return user is not None and (user == namespace or user in self.orgs.get(namespace, ()))

    def grant(self, user: str, repo_id: str) -> None:
        """Accept ``user``'s access request to a gated repository."""
        self.granted.add((user, repo_id))

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        return self.repos[(repo_type, repo_id)]


def point_hub_clients_at(url: str, monkeypatch: Any) -> None:
    """Make huggingface_hub and datasets talk to the Hub at ``url`` for one test (they read
    HF_ENDPOINT at import, so their constants are patched too)."""
    import datasets.config
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", url)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)


def _oid(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _handler_for(hub: HubStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        # -- plumbing ---------------------------------------------------------------------------
        def _user(self) -> str | None:
            token = self._token()
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
                sent = 0 if self.command == "HEAD" else len(data)
                hub.requests.append(Request(self.command, self.path, self._user(), status, sent))

        def _error(self, status: int, code: str | None, message: str) -> None:
            headers = {"X-Error-Message": message}
            if code:
                headers["X-Error-Code"] = code
            self._send(status, {"error": message}, headers=headers)

        def _visible(self, repo: Repo | None, user: str | None) -> bool:
            """Repo info and listings: hidden only when missing or private (gated is public)."""
            if repo is None or (repo.private and not hub.member(user, repo.owner)):
                if user is None:
                    self._error(401, "RepoNotFound", "Invalid username or password.")
                else:
                    self._error(404, "RepoNotFound", "Repository not found")
                return False
            return True

        def _readable(self, repo: Repo | None, user: str | None) -> bool:
            """File contents: answer an access error like the Hub and return False, or True."""
            if not self._visible(repo, user):
                return False
            assert repo is not None
            granted = hub.member(user, repo.owner) or (user, repo.repo_id) in hub.granted
            if repo.gated and not granted:
                message = f"Access to {repo.repo_type} {repo.repo_id} is restricted."
                if user is None:
                    self._error(401, "GatedRepo", message + " You must be authenticated.")
                else:
                    self._error(403, "GatedRepo", message + " You must have access to it.")
                return False
            return True

        def _writable(self, repo: Repo | None, user: str | None, *, pr: bool = False) -> bool:
            if user is None or self._token() in hub.read_only:
                self._error(401, None, "Invalid credentials in Authorization header")
                return False
            if repo is None or (repo.private and not hub.member(user, repo.owner)):
                self._error(404, "RepoNotFound", "Repository not found")
                return False
            if not hub.member(user, repo.owner) and not pr:
                self._error(403, None, "You don't have the rights to write to this repository")
                return False
            return True

        def _injected_failure(self) -> bool:
            path = self.path.split("?", 1)[0]
            for failure in hub.failures:
                if failure.times and failure.method == self.command and failure.path.search(path):
                    failure.times -= 1
                    message = failure.message
                    if failure.echo_authorization:
                        message += (
                            f" (request had Authorization: {self.headers.get('Authorization')})"
                        )
                    self._body()
                    self._error(failure.status, None, message)
                    return True
            return False

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
            if self._injected_failure():
                return None
            path = self.path.split("?", 1)[0]
            user = self._user()
            if path == "/api/whoami-v2":
                if user is None:
                    return self._error(401, None, "Invalid credentials in Authorization header")
                role = "read" if self._token() in hub.read_only else "write"
                orgs = [{"name": org} for org, members in hub.orgs.items() if user in members]
                return self._send(
                    200,
                    {
                        "type": "user",
                        "name": user,
                        "orgs": orgs,
                        "auth": {"type": "access_token", "accessToken": {"role": role}},
                    },
                )
            if path == "/api/repos/create" and self.command == "POST":
                return self._create(user)
            if path == "/api/validate-yaml" and self.command == "POST":
                self._body()
                return self._send(200, {"errors": [], "warnings": []})
            match = _LEADERBOARD.match(path)
            if match and self.command == "GET":
                repo = hub.repos.get(("dataset", match["repo"]))
                if not self._visible(repo, user):
                    return None
                if match["repo"] not in hub.leaderboards:
                    return self._error(404, None, "This dataset does not have a leaderboard")
                return self._send(200, hub.leaderboards[match["repo"]])
            match = _API_REPO.match(path)
            if match:
                repo_type = _TYPES[match["types"]]
                repo = hub.repos.get((repo_type, match["repo"]))
                return self._api(repo, user, match["action"], match["rev"], match["path"])
            match = _RESOLVE.match(path)
            if match:
                repo_type = _TYPES.get(match["types"] or "models", "model")
                repo = hub.repos.get((repo_type, match["repo"]))
                return self._resolve(repo, user, match["rev"], match["path"])
            return self._error(404, None, f"no route for {self.command} {path}")

        def _token(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None

        def _query(self) -> dict[str, str]:
            from urllib.parse import parse_qsl

            return dict(parse_qsl(self.path.split("?", 1)[1])) if "?" in self.path else {}

        def _create(self, user: str | None) -> None:
            payload = json.loads(self._body() or b"{}")
            if user is None or self._token() in hub.read_only:
                return self._error(401, None, "Invalid credentials in Authorization header")
            repo_type = payload.get("type") or "model"
            namespace = payload.get("organization") or user
            if not hub.member(user, namespace):
                return self._error(403, None, f"You don't have the rights to create in {namespace}")
            repo_id = f"{namespace}/{payload['name']}"
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
            repo = Repo(repo_type, repo_id, namespace, private=private)
            repo.record("create")
            hub.repos[(repo_type, repo_id)] = repo
            return self._send(200, {"url": url, "name": repo_id, "id": repo_id})

        def _info(self, repo: Repo, revision: str) -> None:
            files = repo.files_at(revision)
            if files is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return self._send(
                200,
                {
                    "id": repo.repo_id,
                    "sha": repo.sha,
                    "private": repo.private,
                    "gated": repo.gated,
                    "disabled": False,
                    "siblings": [{"rfilename": name} for name in sorted(files)],
                },
            )

        def _entries(self, files: dict[str, bytes], names: list[str]) -> list[dict[str, Any]]:
            return [
                {
                    "type": "file",
                    "path": name,
                    "size": len(files[name]),
                    "oid": _git_oid(files[name]),
                }
                for name in names
            ]

        def _tree(self, repo: Repo, revision: str, folder: str | None) -> None:
            files = repo.files_at(revision)
            if files is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            prefix = f"{folder.strip('/')}/" if folder else ""
            recursive = self._query().get("recursive") in {"1", "true", "True"}
            entries: list[dict[str, Any]] = []
            folders: set[str] = set()
            for name in sorted(n for n in files if n.startswith(prefix)):
                rest = name[len(prefix) :]
                if "/" in rest and not recursive:
                    folders.add(prefix + rest.split("/", 1)[0])
                    continue
                if recursive:
                    parts = rest.split("/")[:-1]
                    folders.update(prefix + "/".join(parts[: i + 1]) for i in range(len(parts)))
                entries.extend(self._entries(files, [name]))
            if prefix and not entries and not folders:
                return self._error(404, "EntryNotFound", f"{folder} does not exist")
            listing = [{"type": "directory", "path": f, "oid": _oid(f)} for f in sorted(folders)]
            return self._send(200, listing + entries)

        def _api(
            self,
            repo: Repo | None,
            user: str | None,
            action: str | None,
            revision: str | None,
            path: str | None,
        ) -> None:
            if action in {None, "revision", "tree"} and self.command == "GET":
                if not self._visible(repo, user):
                    return None
                assert repo is not None
                if action == "tree":
                    return self._tree(repo, revision or "main", path)
                return self._info(repo, revision or "main")
            body = self._body()
            if action == "paths-info":
                if not self._visible(repo, user):
                    return None
                assert repo is not None
                files = repo.files_at(revision or "main") or {}
                from urllib.parse import parse_qs

                wanted = parse_qs(body.decode()).get("paths", [])
                return self._send(200, self._entries(files, [n for n in wanted if n in files]))
            if action not in {"settings", "preupload", "commit"}:
                return self._error(405, None, f"{self.command} not allowed here")
            pull_request = action == "commit" and self._query().get("create_pr") == "1"
            if not self._writable(repo, user, pr=pull_request):
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
                repo.record("settings")
                return self._send(200, {})
            if action == "preupload":
                files = repo.files_at(revision or "main") or {}
                wanted = json.loads(body)["files"]
                return self._send(
                    200,
                    {
                        "files": [
                            {
                                "path": f["path"],
                                "uploadMode": "regular",
                                "shouldIgnore": False,
                                "oid": _git_oid(files[f["path"]]) if f["path"] in files else None,
                            }
                            for f in wanted
                        ]
                    },
                )
            return self._commit(repo, body, pull_request)

        def _commit(self, repo: Repo, body: bytes, pull_request: bool) -> None:
            """An NDJSON commit: header + file / deletedFile lines, on main or a new PR."""
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            header = next(line["value"] for line in lines if line["key"] == "header")
            number = len(repo.prs) + 1
            files = dict(repo.files) if pull_request else repo.files
            added, deleted = [], []
            for line in lines:
                if line["key"] == "file":
                    value = line["value"]
                    files[value["path"]] = base64.b64decode(value["content"])
                    added.append(value["path"])
                elif line["key"] in {"deletedFile", "deletedFolder"}:
                    removed = line["value"]["path"]
                    for name in [n for n in files if n == removed or n.startswith(removed)]:
                        del files[name]
                    deleted.append(removed)
                elif line["key"] == "lfsFile":
                    return self._error(400, None, "the stub stores regular files only")
            oid = _oid(f"{repo.sha}{header.get('summary')}{sorted(added)}{sorted(deleted)}{number}")
            revision = f"refs/pr/{number}" if pull_request else "main"
            if pull_request:
                repo.prs[number] = files
            repo.commits.append(
                {
                    "oid": oid,
                    "message": header.get("summary"),
                    "added": added,
                    "deleted": deleted,
                    "revision": revision,
                    "private": repo.private,
                    "gated": repo.gated,
                }
            )
            repo.record(f"commit {revision}")
            prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
            base = f"{hub.url}/{prefix}{repo.repo_id}"
            return self._send(
                200,
                {
                    "commitUrl": f"{base}/commit/{oid}",
                    "commitOid": oid,
                    "pullRequestUrl": f"{base}/discussions/{number}" if pull_request else None,
                },
            )

        def _resolve(self, repo: Repo | None, user: str | None, revision: str, name: str) -> None:
            if not self._readable(repo, user):
                return None
            assert repo is not None
            files = repo.files_at(revision)
            if files is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            if name not in files:
                return self._error(404, "EntryNotFound", f"{name} does not exist")
            data = files[name]
            headers = {
                "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
                "X-Repo-Commit": repo.sha,
                "Accept-Ranges": "bytes",
            }
            wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if wanted and self.command == "GET":
                first = int(wanted.group(1))
                last = min(int(wanted.group(2) or len(data) - 1), len(data) - 1)
                if first >= len(data):
                    return self._error(416, None, "Range Not Satisfiable")
                headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
                return self._send(206, raw=data[first : last + 1], headers=headers)
            return self._send(200, raw=data, headers=headers)

    return Handler


def _git_oid(data: bytes) -> str:
    """git's blob id of ``data``: the oid the Hub reports for a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
