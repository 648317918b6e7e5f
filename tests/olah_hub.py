"""A real Hub-compatible server for read tests: olah (PyPI ``olah``), offline, on loopback.

olah is a Hugging Face Hub mirror; it serves a local git repository as a Hub repo. Run alone
it answers range requests for mirrored repos with the whole file (clients then read wrong
bytes), so two olah processes are chained: a *back* one, offline, serving the git repository,
and a *front* one, a caching proxy whose "huggingface.co" is the back, which answers ranges
properly (206). Clients talk to the front (``HF_ENDPOINT``). Parquet files are committed as
git-lfs pointers with their bytes in ``.git/lfs/objects``, as the Hub stores them.

olah runs from its own environment (its pins must not touch ours): ``$H3DS_HF_OLAH`` names its
``olah-cli`` (``.ci/run`` installs it). Nothing leaves 127.0.0.1; both servers are stopped at
exit, and each is bounded by the test's own timeouts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

#: Where the olah command is found; tests skip (CI fails) when it is not there.
OLAH_ENV = "H3DS_HF_OLAH"
#: Fixed identity and dates: the same folder always gives the same commit.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "h3ds-hf tests",
    "GIT_AUTHOR_EMAIL": "tests@localhost",
    "GIT_COMMITTER_NAME": "h3ds-hf tests",
    "GIT_COMMITTER_EMAIL": "tests@localhost",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def olah_command() -> str | None:
    """The olah-cli to run, or None when olah is not installed."""
    command = os.environ.get(OLAH_ENV) or shutil.which("olah-cli")
    return command if command and Path(command).is_file() else None


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **_GIT_ENV},
    )
    return done.stdout.strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _commit(folder: Path, repo: Path) -> str:
    """``repo``: a git repository (branch main) whose one commit is ``folder``, the Parquet
    files as git-lfs pointers; returns the commit sha."""
    shutil.copytree(folder, repo, ignore=shutil.ignore_patterns(".git", ".h3ds-hf-*"))
    _git(repo, "init", "-q", "-b", "main")
    (repo / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")
    for path in sorted(repo.rglob("*.parquet")):
        data = path.read_bytes()
        oid = hashlib.sha256(data).hexdigest()
        stored = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_bytes(data)
        path.write_text(
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"
        )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "H3DS (h3ds-hf prepare)")
    return _git(repo, "rev-parse", "HEAD")


class OlahHub:
    """olah serving ``folder`` as the dataset ``repo_id``; ``url`` is the endpoint."""

    def __init__(self, folder: Path, repo_id: str, *, startup_timeout: float = 60.0) -> None:
        command = olah_command()
        if command is None:
            raise FileNotFoundError(f"olah is not installed (set ${OLAH_ENV})")
        self.command, self.folder, self.repo_id = command, Path(folder), repo_id
        self.startup_timeout = startup_timeout
        self.workdir = Path(tempfile.mkdtemp(prefix="h3ds-hf-olah-"))
        self.port, self.back_port = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []
        self.sha = ""

    def _configure(self) -> None:
        work = self.workdir
        org, name = self.repo_id.split("/")
        self.sha = _commit(self.folder, work / "mirrors" / "datasets" / org / name)
        # Offline olah answers repo info without a revision only from its cache: seed it.
        seed = work / "back-cache" / "api" / "datasets" / org / name / "revision" / "main"
        seed.mkdir(parents=True)
        head = {"sha": self.sha, "lastModified": "2026-01-01T00:00:00+00:00"}
        (seed / "meta_head.json").write_text(json.dumps(head))
        # The front takes a file from the back as one cache block: make blocks hold any file.
        largest = max(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())
        block = max(64, 2 ** (largest // 2**20).bit_length())
        (work / "back.toml").write_text(
            f'[basic]\nhost = "127.0.0.1"\nport = {self.back_port}\n'
            f"repos-path = {json.dumps(str(work / 'back-cache'))}\n"
            f"mirrors-path = [{json.dumps(str(work / 'mirrors'))}]\n"
            'hf-scheme = "http"\nhf-netloc = "127.0.0.1:9"\nhf-lfs-netloc = "127.0.0.1:9"\n'
            "[accessibility]\noffline = true\n"
        )
        (work / "front.toml").write_text(
            f'[basic]\nhost = "127.0.0.1"\nport = {self.port}\n'
            f"repos-path = {json.dumps(str(work / 'front-cache'))}\n"
            f'hf-scheme = "http"\nhf-netloc = "127.0.0.1:{self.back_port}"\n'
            f'hf-lfs-netloc = "127.0.0.1:{self.back_port}"\n'
            f'cache-block-size = "{block}MB"\nmetadata-cache-ttl = 0\n'
            "[accessibility]\noffline = false\n"
        )

    def _spawn(self, which: str) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        environment.update({"HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1"})
        with (self.workdir / f"{which}.log").open("wb") as log:
            self.processes.append(
                subprocess.Popen(
                    [self.command, "-c", f"{which}.toml", "--log-path", f"{which}-logs"],
                    cwd=self.workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=environment,
                    start_new_session=True,
                )
            )

    def _wait(self, url: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                logs = "".join(p.read_text() for p in self.workdir.glob("*.log"))
                raise RuntimeError(f"olah exited:\n{logs[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"olah did not answer {url} within {self.startup_timeout} s")

    def __enter__(self) -> OlahHub:
        self._configure()
        deadline = time.monotonic() + self.startup_timeout
        try:
            self._spawn("back")
            self._wait(f"http://127.0.0.1:{self.back_port}/api/datasets/{self.repo_id}", deadline)
            self._spawn("front")
            self._wait(f"{self.url}/api/datasets/{self.repo_id}", deadline)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)
