"""The one-line notice before the kernels compile, and only then."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from h3ds_hf.evaluation import evaluate_pair, kernels, parallel
from h3ds_hf.synthetic.release import synthetic_ground_truth


def test_compilation_is_needed_with_an_empty_cache(tmp_path):
    code = "from h3ds_hf.evaluation.kernels import compilation_needed; print(compilation_needed())"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"


def test_no_notice_once_compiled(caplog, monkeypatch):
    gt = synthetic_ground_truth(1, subdivisions=3)
    evaluate_pair(gt, (gt.vertices * 1.001, gt.faces))  # compiled or loaded from the cache
    assert not kernels.compilation_needed()
    monkeypatch.setattr(kernels, "_announced", [False])
    with caplog.at_level(logging.WARNING):
        kernels.announce_compilation()
    assert not caplog.records


def test_one_notice_when_compiling(caplog, monkeypatch):
    monkeypatch.setattr(kernels, "_announced", [False])
    monkeypatch.setattr(kernels, "compilation_needed", lambda: True)
    with caplog.at_level(logging.WARNING):
        kernels.announce_compilation()
        kernels.announce_compilation()
    assert [r.getMessage() for r in caplog.records] == [
        f"compiling the evaluation kernels once (about {kernels.COMPILE_SECONDS} s)"
    ]


def test_openmp_waits_passively_unless_the_user_chose():
    code = (
        "import os; import h3ds_hf.evaluation.parallel\n"
        "print(os.environ['OMP_WAIT_POLICY'], os.environ['KMP_BLOCKTIME'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["PASSIVE", "0"]
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["ACTIVE", "0"]


def test_small_kernels_run_on_one_thread():
    import numba

    with parallel.kernel_threads(parallel.PARALLEL_MIN_WORK - 1):
        assert numba.get_num_threads() == 1
    with parallel.kernel_threads(parallel.PARALLEL_MIN_WORK):
        assert numba.get_num_threads() == parallel.kernel_threads_setting()
