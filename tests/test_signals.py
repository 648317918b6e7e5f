"""Nothing lost, nothing half-made: folders replaced atomically even under kill -9, staging of
dead runs cleaned, SIGTERM and Ctrl-C unwinding like each other (exit 130, one line)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from h3ds_hf import atomic
from h3ds_hf.errors import WorkerDiedError
from h3ds_hf.processes import process_pool

#: Runs replace_folder in a child that SIGKILLs itself at the step named by argv[2].
_KILLED_REPLACE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from h3ds_hf import atomic

    target, step = Path(sys.argv[1]), sys.argv[2]
    staging = atomic.staging_folder(target)
    (staging / "content").write_text("new")
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)
    exchange = atomic._exchange
    if step == "after-exchange":
        atomic._exchange = lambda a, b: (exchange(a, b), die())
    elif step == "before-exchange":
        atomic._exchange = lambda a, b: die()
    else:  # no atomic exchange: killed between the two renames of the fallback
        atomic._exchange = lambda a, b: False
        rename = Path.replace
        Path.replace = lambda self, other: (rename(self, other), die())
    atomic.replace_folder(staging, target)
    """
)


@pytest.mark.parametrize("step", ["before-exchange", "after-exchange", "between-renames"])
def test_a_kill_never_leaves_the_target_missing(tmp_path, step):
    target = tmp_path / "dataset"
    target.mkdir()
    (target / "content").write_text("old")
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_REPLACE, str(target), step], capture_output=True, check=False
    )
    assert done.returncode == -signal.SIGKILL
    # The next run puts back or cleans what the killed one left, and finds old or new content.
    atomic.staging_folder(target).rmdir()
    assert (target / "content").read_text() in ("old", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_exchange_is_used_on_linux(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "x").write_text("a")
    if not atomic._exchange(first, second):
        pytest.skip("renameat2(RENAME_EXCHANGE) unsupported here")
    assert (second / "x").read_text() == "a" and not (first / "x").exists()


def test_only_stale_partials_of_the_target_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "out"
    stale = tmp_path / f".out.partial-{dead.pid}-abc"
    alive = tmp_path / f".out.partial-{os.getppid()}-abc"
    other = tmp_path / f".other.partial-{dead.pid}-abc"
    for folder in (stale, alive, other):
        folder.mkdir()
    staging = atomic.staging_folder(target)
    assert not stale.exists() and alive.exists() and other.exists()
    assert staging.name.startswith(f".out.partial-{os.getpid()}-")


_SLOW_EXTRACT = textwrap.dedent(
    """
    import sys, threading, time
    from h3ds_hf.release import extract

    started = threading.Lock()

    def slow(archive, members, password, destination, progress, cancelled):
        # A thread half-way through its members: a file written, then waiting to be stopped.
        path = next(filter(None, map(destination, members)), None)
        if path is not None:
            path.write_text("x")
        if started.acquire(blocking=False):
            print("ready", flush=True)
        deadline = time.monotonic() + 60
        while not cancelled.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # finishing the chunk in hand: a second signal lands meanwhile

    extract.write_members = slow
    from h3ds_hf.cli import main
    sys.exit(main(["extract", *sys.argv[1:], "--no-progress"]))
    """
)


@pytest.mark.parametrize(
    "signum, count", [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGINT, 2)]
)
def test_a_signal_during_extract_cleans_up_and_exits_130(synthetic, tmp_path, signum, count):
    target = tmp_path / "out"
    env = dict(os.environ, H3DS_ACCESS_TOKEN=synthetic.token)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SLOW_EXTRACT,
            str(synthetic.zip_path),
            str(target),
            "--catalog",
            str(synthetic.catalog_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout.readline().strip() == "ready"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.partial-")]
    for _ in range(count):  # a second Ctrl-C while the threads stop changes nothing
        child.send_signal(signum)
        time.sleep(0.03)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert err.strip().splitlines() == ["h3ds-hf: interrupted"]
    assert list(tmp_path.iterdir()) == []


_INTERRUPTED_START = textwrap.dedent(
    """
    import os, signal, sys
    from h3ds_hf import cli

    assert "trimesh" not in sys.modules and "h3ds_hf.dataset" not in sys.modules
    build = cli.build_parser
    # Ctrl-C while the sub-commands (numpy, trimesh, datasets...) are being imported.
    cli.build_parser = lambda: (os.kill(os.getpid(), signal.SIGINT), build())[1]
    sys.exit(cli.main(["info", sys.argv[1]]))
    """
)


def test_ctrl_c_during_start_up_is_one_line(synthetic):
    """The package imports lazily, so the CLI's handler is in place before the heavy imports."""
    done = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED_START, str(synthetic.folder)],
        capture_output=True,
        check=False,
        text=True,
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines() == ["h3ds-hf: interrupted"]


def test_a_full_disk_leaves_the_old_file_and_no_partial(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    path.write_text("old")

    def full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fdopen", full)
    with pytest.raises(OSError, match="No space"):
        atomic.atomic_write_text(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_nearly_singular_camera_is_warned_about(caplog):
    from h3ds_hf.release.cameras import decompose_projection

    P = np.array([[1000.0, 0, 50, 0], [0, 1000, 60, 0], [0, 0, 1e-6, 1]])
    with caplog.at_level("WARNING"):
        decompose_projection(P)
    assert "nearly singular" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        decompose_projection(np.array([[1000.0, 0, 50, 0], [0, 1000, 60, 0], [0, 0, 1, 1]]))
    assert caplog.text == ""


def _workers(parent: int) -> list[int]:
    """Pids of the "spawn" worker processes of ``parent`` (not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
        if ppid == parent and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
#: Seconds from the workers' start to the Ctrl-C: in their imports and unpickling (the
#: initializer's module imports datasets, ~1 s), or reading scenes.
@pytest.mark.parametrize("delay", [0.3, 0.6, 2.0])
def test_ctrl_c_during_prepare_with_jobs_stops_every_process_quietly(synthetic, tmp_path, delay):
    """A terminal's Ctrl-C reaches the whole process group: the CLI and its two workers, which
    may be anywhere in their start-up (interpreter, imports, unpickling) or in a scene."""
    output = tmp_path / "prepared"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "h3ds_hf.cli",
            "prepare",
            str(synthetic.folder),
            "--catalog",
            str(synthetic.catalog_path),
            "--output",
            str(output),
            "--jobs",
            "2",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while len(workers) < 2 and child.poll() is None and time.monotonic() < deadline:
        workers = _workers(child.pid)
        time.sleep(0.005)
    assert len(workers) == 2, "the workers never started"
    time.sleep(delay)
    os.killpg(child.pid, signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert err.strip().splitlines() == ["h3ds-hf: interrupted"]
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive, workers))
    assert not output.exists() and list(tmp_path.iterdir()) == []


def test_a_worker_that_dies_is_one_error_and_stops_the_others():
    # The out-of-memory killer or a kill takes one worker: an H3DSError (one CLI line), not
    # concurrent.futures' BrokenProcessPool traceback.
    with pytest.raises(WorkerDiedError, match="stopped abruptly"), process_pool(2) as pool:
        pool.submit(time.sleep, 30)
        pool.submit(os._exit, 9).result(timeout=60)
