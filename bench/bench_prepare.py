"""Benchmark: peak memory and throughput of ``h3ds-hf prepare --configs all-views``.

Writes a synthetic release of N scenes x 70 views whose photos are realistic full-resolution
JPEGs (1512x2016, about 1 MB each: a few distinct noisy images per scene, copied), then
prepares the 'all-views' config (every photo of every scene: the worst case) for 5 and for 20
scenes, each in a fresh child process that reports its own peak RSS. Baselines measured in the
same run: the peak RSS of a child that only imports the package (the floor), and the time of
copying the source folder (``shutil.copytree``: the same bytes read and written, no work).

Targets (issue 4): peak RSS <= 1.5 GB and flat in the number of scenes.

    python bench/bench_prepare.py [--scenes 5 20] [--views 70] [--jobs 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from h3ds_hf.synthetic.release import write_synthetic_release

PHOTO_SIZE = (1512, 2016)  # width, height of the real photos
DISTINCT_PHOTOS = 4  # per scene; the others are copies (content does not matter to prepare)

_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
import h3ds_hf.hub.prepare as prepare
if sys.argv[1] == "prepare":
    prepare.prepare_dataset(sys.argv[2], sys.argv[3], catalog_path=sys.argv[4],
                            configs=["all-views"], jobs=int(sys.argv[5]), progress=False)
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": time.perf_counter() - t0, "rss_kb": own, "workers_rss_kb": workers}))
"""


def _photo(rng: np.random.Generator) -> bytes:
    """A 1512x2016 JPEG of smooth noise plus grain, about 1 MB like the real photos."""
    width, height = PHOTO_SIZE
    coarse = rng.integers(0, 256, size=(height // 16, width // 16, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(PHOTO_SIZE, Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.int16) + rng.integers(-12, 13, size=(height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _mask() -> bytes:
    width, height = PHOTO_SIZE
    y, x = np.ogrid[:height, :width]
    inside = ((x - width / 2) / (width / 3)) ** 2 + ((y - height / 2) / (height / 3)) ** 2 < 1
    buffer = io.BytesIO()
    Image.fromarray(np.where(inside, 255, 0).astype(np.uint8), "L").save(buffer, "PNG")
    return buffer.getvalue()


def make_release(root: Path, scenes: int, views: int) -> tuple[Path, Path]:
    """Synthetic release with small renders, then full-resolution photos and masks."""
    folder = write_synthetic_release(
        root / "release", scenes=scenes, views=views, image_size=(48, 64), subdivisions=5
    )
    rng = np.random.default_rng(0)
    mask = _mask()
    for scene in sorted(p for p in folder.iterdir() if p.is_dir()):
        photos = [_photo(rng) for _ in range(DISTINCT_PHOTOS)]
        for view in range(views):
            (scene / "image" / f"img_{view:04d}.jpg").write_bytes(photos[view % len(photos)])
            (scene / "mask" / f"mask_{view:04d}.png").write_bytes(mask)
    return folder, root / "catalog.toml"


def _child(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _copy_seconds(folder: Path, target: Path) -> float:
    start = time.perf_counter()
    shutil.copytree(folder, target)
    seconds = time.perf_counter() - start
    shutil.rmtree(target)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--views", type=int, default=70)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: temporary)")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="h3ds-bench-prepare-"))
    try:
        floor = _child("import")
        print(f"baseline: import-only child peak RSS {floor['rss_kb'] / 1024:.0f} MB")
        peaks = {}
        for scenes in args.scenes:
            root = work / f"scenes-{scenes}"
            start = time.perf_counter()
            folder, catalog = make_release(root, scenes, args.views)
            made = time.perf_counter() - start
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            copy_seconds = _copy_seconds(folder, root / "copy")
            result = _child("prepare", str(folder), str(root / "out"), str(catalog), str(args.jobs))
            out_size = sum(p.stat().st_size for p in (root / "out").rglob("*") if p.is_file())
            peak = max(result["rss_kb"], result["workers_rss_kb"]) / 1024
            peaks[scenes] = peak
            rate = size / 2**20 / result["seconds"]
            copy_rate = size / 2**20 / copy_seconds
            print(
                f"{scenes:3d} scenes x {args.views} views: source {size / 2**20:7.0f} MB "
                f"(generated in {made:.0f} s), output {out_size / 2**20:7.0f} MB, "
                f"prepare {result['seconds']:6.1f} s = {rate:6.1f} MB/s "
                f"(copytree {copy_rate:.0f} MB/s, prepare/copy time "
                f"{result['seconds'] / copy_seconds:.1f}x), "
                f"peak RSS {peak:.0f} MB (main {result['rss_kb'] / 1024:.0f}, "
                f"workers {result['workers_rss_kb'] / 1024:.0f}), jobs {args.jobs}"
            )
            shutil.rmtree(root / "out")
        if len(peaks) > 1:
            small, large = min(peaks), max(peaks)
            print(
                f"peak RSS ratio {large} / {small} scenes: {peaks[large] / peaks[small]:.2f} "
                f"(flat = 1.00); target <= 1536 MB: "
                f"{'met' if max(peaks.values()) <= 1536 else 'MISSED'}"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
