"""The kernels compile once, on every core, after one line of notice, and only then."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from h3ds_hf.evaluation import evaluate_pair, kernels, parallel
from h3ds_hf.processes import available_cores
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
    monkeypatch.setattr(kernels, "_prepared", [False])
    with caplog.at_level(logging.WARNING):
        kernels.prepare_kernels()
    assert not caplog.records


def test_one_notice_when_compiling(caplog, monkeypatch):
    compiled = []
    monkeypatch.setattr(kernels, "_prepared", [False])
    monkeypatch.setattr(kernels, "compilation_needed", lambda: True)
    monkeypatch.setattr(kernels, "compile_kernels", compiled.append)
    with caplog.at_level(logging.WARNING):
        kernels.prepare_kernels()
        kernels.prepare_kernels()
    seconds = kernels.compile_seconds(available_cores())
    assert [r.getMessage() for r in caplog.records] == [
        f"compiling the evaluation kernels once (about {seconds} s)"
    ]
    assert compiled == [available_cores()]


@pytest.mark.parametrize("processes", [1, 2, 3, 5, 12, 40])
def test_shares_give_every_kernel_to_one_process(processes):
    shares = kernels._shares(processes)
    assert len(shares) == min(processes, len(kernels._ENTRY_KERNELS)) and all(shares)
    assert sorted(i for share in shares for i in share) == list(range(len(kernels._ENTRY_KERNELS)))


#: In a fresh process: a tiny evaluation, then the entry kernels that missed the cache.
_MISSES = """
from h3ds_hf.evaluation import evaluate_pair, kernels
from h3ds_hf.synthetic.release import synthetic_ground_truth
gt = synthetic_ground_truth(1, subdivisions=3)
evaluate_pair(gt, (gt.vertices * 1.001, gt.faces), landmarks_pred=gt.landmarks)
print([k.__name__ for k, _, _ in kernels._ENTRY_KERNELS if sum(k.stats.cache_misses.values())])
"""


def test_compiling_in_two_processes_fills_the_cache_a_later_evaluation_loads(tmp_path):
    # The declared argument types are those the protocol calls with: otherwise the cache
    # filled ahead of time misses, and the kernel compiles again on first use.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    compile_code = "from h3ds_hf.evaluation.kernels import compile_kernels; compile_kernels(2)"
    subprocess.run([sys.executable, "-c", compile_code], env=env, check=True)
    done = subprocess.run(
        [sys.executable, "-c", _MISSES], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


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
