"""Benchmark: what the compiled kernels cost a user's process, first after install and later.

- ``first``: ``h3ds-hf evaluate`` of the demo-sized synthetic benchmark (3 scenes, 4 views
  configs, 10k-vertex heads) in a fresh process with an empty kernel cache
  (``NUMBA_CACHE_DIR`` pointed at a new folder), as the first evaluation after an install:
  the whole wall time (target <= 15 s on 2 cores) and whether the one-line compile notice
  was printed; then the same command again, with the cache now filled.
- ``later``: a fresh process that imports the evaluation and scores a 642-vertex pair twice:
  the first call's time minus the second's is what loading the cached kernels costs before
  the first call (target <= 0.2 s), median of 5 processes. Its baseline, measured the same
  way: numba's own floor, a one-line cached function in a fresh process that has already
  imported numba and what the evaluation imports (scipy.spatial).

Both are measured on the machine as it is, then while ``--busy`` processes (started by this
script) keep cores busy.

Run: ``python bench/bench_first_run.py [--busy 1]`` (~2 min).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dropin import busy_cores

from h3ds_hf.demo import DEMO_VIEWS
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.predictions import write_synthetic_predictions
from h3ds_hf.synthetic.release import write_synthetic_release

#: Scores a tiny pair twice in a fresh process; prints seconds of the first and second call.
_LATER = """
import time
from h3ds_hf.evaluation import evaluate_pair
from h3ds_hf.synthetic.release import synthetic_ground_truth
gt = synthetic_ground_truth(1, subdivisions=3)
times = []
for _ in range(2):
    start = time.perf_counter()
    evaluate_pair(gt, (gt.vertices * 1.001, gt.faces))
    times.append(time.perf_counter() - start)
print(*times)
"""


def first_case(root: Path) -> None:
    release = write_synthetic_release(
        root / "release", views=34, image_size=(24, 32), catalog_path=root / "catalog.toml"
    )
    predictions = write_synthetic_predictions(
        open_release(release, catalog_path=root / "catalog.toml"),
        root / "predictions",
        views_configs=DEMO_VIEWS,
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(root / "kernel-cache"))
    command = [
        sys.executable,
        "-m",
        "h3ds_hf.cli",
        "evaluate",
        "--source",
        str(release),
        "--catalog",
        str(root / "catalog.toml"),
        "--predictions",
        str(predictions),
        "--output",
        str(root / "results.json"),
        "--no-progress",
    ]
    for label in ("empty kernel cache (first run after install)", "cache filled (next run)"):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - start
        notice = [line for line in done.stderr.splitlines() if "compiling" in line]
        print(f"    {label:<46} {elapsed:5.1f} s  notice: {notice[0] if notice else 'none'}")


#: numba's floor: a trivial cached function called twice (numba caches only functions of
#: modules in files); prints seconds of the first and second call.
_FLOOR = """
import time
import numba, scipy.spatial
@numba.njit(cache=True)
def plus_one(x):
    return x + 1
times = []
for _ in range(2):
    start = time.perf_counter()
    plus_one(1)
    times.append(time.perf_counter() - start)
print(*times)
"""


def later_case(runs: int = 5) -> None:
    with tempfile.TemporaryDirectory(prefix="h3ds-bench-floor-") as folder:
        floor = Path(folder) / "floor.py"
        floor.write_text(_FLOOR)
        for label, command in (
            ("kernel loading before the first call", [sys.executable, "-c", _LATER]),
            ("numba's floor (a trivial cached function)", [sys.executable, str(floor)]),
        ):
            overheads, firsts = [], []
            for _ in range(runs):
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                first, second = map(float, done.stdout.split()[-2:])
                overheads.append(first - second)
                firsts.append(first)
            print(
                f"    {label}: median {statistics.median(overheads):.2f} s"
                f" (first call {statistics.median(firsts):.2f} s), {runs} processes"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=1, help="busy processes in the loaded run")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores")
    for label, count in (("as it is", 0), (f"{args.busy} busy process(es)", args.busy)):
        with busy_cores(count), tempfile.TemporaryDirectory(prefix="h3ds-bench-") as tmp:
            print(f"  {label} (load average {os.getloadavg()[0]:.1f}):")
            first_case(Path(tmp))
            later_case()


if __name__ == "__main__":
    main()
