"""Benchmark: start-up of the command line, and ``h3ds-hf extract`` against Info-ZIP's unzip.

Measures whole processes, as a user runs them:

- ``h3ds-hf --help`` and ``h3ds-hf info FOLDER`` (best of 5 runs each; target <= 0.5 s);
- ``h3ds-hf extract ARCHIVE DIR`` against ``unzip -q -P TOKEN ARCHIVE -d DIR`` on the same
  ZipCrypto archive (realistic ~1.5 MB photos, as in bench_archive.py), MB of
  archive per second, alternating the two, best of 3 each (target >= 0.9x): with the default
  ``--jobs`` (one thread per core) and ``--jobs 1``, on the machine as it is,
  then while ``--busy`` processes (started by this script) keep cores busy.

Run: ``python bench/bench_startup.py [--scenes 2] [--views 40] [--busy 1]`` (needs ``unzip``;
~2 min).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_archive import PASSWORD, realistic_photos
from bench_dropin import busy_cores

from h3ds_hf.release.zipcrypto import pack_zip
from h3ds_hf.synthetic.release import write_synthetic_release

CLI = [sys.executable, "-m", "h3ds_hf.cli"]


def best_of(runs: int, command: list[str], env: dict | None = None, before=None) -> float:
    """Fastest wall time (s) of ``runs`` runs of ``command`` (``before()`` runs untimed first)."""
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--views", type=int, default=40)
    parser.add_argument("--busy", type=int, default=1, help="busy processes in the loaded run")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the run")
    with tempfile.TemporaryDirectory(prefix="h3ds-bench-") as tmp:
        root = Path(tmp)
        catalog = root / "catalog.toml"
        folder = write_synthetic_release(
            root / "release", scenes=args.scenes, views=args.views, catalog_path=catalog
        )
        realistic_photos(folder)
        archive = pack_zip(folder, root / "release.zip", PASSWORD, top_folder="h3ds")
        catalog_args = ["--catalog", str(catalog)]
        print(f"h3ds-hf --help: {best_of(5, CLI + ['--help']):.2f} s")
        info = best_of(5, CLI + ["info", str(folder), *catalog_args])
        print(f"h3ds-hf info FOLDER: {info:.2f} s")
        megabytes = archive.stat().st_size / 1e6
        target = root / "out"
        env = {**os.environ, "H3DS_ACCESS_TOKEN": PASSWORD}

        def clean() -> None:
            shutil.rmtree(target, ignore_errors=True)

        extract = [*CLI, "extract", str(archive), str(target), "--no-progress", *catalog_args]
        unzip = ["unzip", "-q", "-P", PASSWORD, str(archive), "-d", str(target)]
        for label, count in (("as it is", 0), (f"{args.busy} busy process(es)", args.busy)):
            with busy_cores(count):
                print(f"  {label} (load average {os.getloadavg()[0]:.1f}):")
                times: dict[str, list[float]] = {"default": [], "jobs 1": [], "unzip": []}
                for _ in range(3):
                    times["default"].append(best_of(1, extract, env, clean))
                    times["jobs 1"].append(best_of(1, [*extract, "--jobs", "1"], env, clean))
                    times["unzip"].append(best_of(1, unzip, None, clean))
                baseline = min(times["unzip"])
                print(f"    unzip: {megabytes / baseline:.1f} MB/s")
                for name in ("default", "jobs 1"):
                    best = min(times[name])
                    print(
                        f"    extract {megabytes:.0f} MB, h3ds-hf ({name}): "
                        f"{megabytes / best:.1f} MB/s, ratio {baseline / best:.2f}x unzip"
                    )


if __name__ == "__main__":
    main()
