"""Throughput of reading the encrypted release zip: h3ds_hf vs Python's zipfile, same archive.

Builds a synthetic ZipCrypto archive whose photos have the size of the real ones (noisy
1512x2016 JPEGs, ~1.5 MB), then measures in this run:

- extraction with ``h3ds_hf.release.extract.extract_release`` (MB of archive per second);
- reading every member in place with ``h3ds_hf.release.sources.ZipSource`` (random access);
- the baseline: ``zipfile.ZipFile.read(pwd=...)`` on the same members, for a bounded time;
- peak RSS of extraction in a child process for two archive sizes (memory must not grow).

Usage: python bench/bench_archive.py [--scenes 2] [--views 40] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from h3ds_hf.release.extract import extract_release
from h3ds_hf.release.sources import ZipSource
from h3ds_hf.release.zipcrypto import pack_zip
from h3ds_hf.synthetic.release import write_synthetic_release

PASSWORD = "bench-token"
#: Seconds the slow baseline is given; its MB/s is measured on what it read in that time.
BASELINE_SECONDS = 20.0


def realistic_photos(folder: Path, variants: int = 6) -> None:
    """Replace each synthetic photo by a noisy full-size JPEG (about the real file size)."""
    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(variants):
        base = rng.integers(0, 256, size=(252, 189, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((1512, 2016), Image.Resampling.BILINEAR)
        noisy = np.asarray(image, dtype=np.int16) + rng.integers(-24, 25, (2016, 1512, 3))
        buffer = io.BytesIO()
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
        blobs.append(buffer.getvalue())
    for index, path in enumerate(sorted(folder.glob("*/image/img_*.jpg"))):
        path.write_bytes(blobs[index % variants])


def build_archive(workdir: Path, scenes: int, views: int) -> Path:
    folder = write_synthetic_release(workdir / f"release-{scenes}", scenes=scenes, views=views)
    realistic_photos(folder)
    return pack_zip(folder, workdir / f"release-{scenes}.zip", PASSWORD, top_folder="h3ds")


def ours_extract(archive: Path, workdir: Path) -> float:
    start = time.perf_counter()
    extract_release(archive, workdir / f"out-{archive.stem}", token=PASSWORD, progress=False)
    return time.perf_counter() - start


def ours_read_all(archive: Path) -> float:
    source = ZipSource(archive, token=PASSWORD)
    start = time.perf_counter()
    for name in sorted(source.names()):
        source.read_bytes(name)
    return time.perf_counter() - start


def baseline_read(archive: Path) -> tuple[float, int]:
    """Python's zipfile on the same members until BASELINE_SECONDS; (seconds, archive bytes)."""
    start, done = time.perf_counter(), 0
    with zipfile.ZipFile(archive) as handle:
        for info in sorted(handle.infolist(), key=lambda i: i.header_offset):
            handle.read(info, pwd=PASSWORD.encode())
            done += info.compress_size
            if time.perf_counter() - start > BASELINE_SECONDS:
                break
    return time.perf_counter() - start, done


def peak_rss_of_extraction(archive: Path, target: Path) -> float:
    """Peak RSS (MB) of a child process that extracts the archive."""
    code = (
        "import resource, sys\n"
        "from h3ds_hf.release.extract import extract_release\n"
        "extract_release(sys.argv[1], sys.argv[2], token=sys.argv[3], progress=False)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(archive), str(target), PASSWORD],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--views", type=int, default=40)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="h3ds-bench-archive-"))
    small = build_archive(workdir, 1, args.views)
    large = build_archive(workdir, args.scenes * 2, args.views)
    mb = large.stat().st_size / 1e6

    extract_s = ours_extract(large, workdir)
    read_s = ours_read_all(large)
    base_s, base_bytes = baseline_read(large)
    ours_mbs, read_mbs, base_mbs = mb / extract_s, mb / read_s, base_bytes / 1e6 / base_s
    rss_small = peak_rss_of_extraction(small, workdir / "rss-small")
    rss_large = peak_rss_of_extraction(large, workdir / "rss-large")
    figures = {
        "archive_mb": round(mb, 1),
        "extract_mb_per_s": round(ours_mbs, 1),
        "read_in_place_mb_per_s": round(read_mbs, 1),
        "zipfile_mb_per_s": round(base_mbs, 2),
        "speedup_extract_vs_zipfile": round(ours_mbs / base_mbs, 1),
        "peak_rss_mb": {
            f"{small.stat().st_size / 1e6:.0f} MB archive": round(rss_small),
            f"{mb:.0f} MB archive": round(rss_large),
        },
    }
    print(f"archive: {mb:.1f} MB of ZipCrypto members ({large.name})")
    print(f"h3ds_hf extract:       {ours_mbs:7.1f} MB/s ({extract_s:.1f} s)")
    print(f"h3ds_hf read in place: {read_mbs:7.1f} MB/s ({read_s:.1f} s)")
    print(
        f"python zipfile:        {base_mbs:7.2f} MB/s ({base_bytes / 1e6:.1f} MB in {base_s:.1f} s)"
    )
    print(f"ratio extract / zipfile: {ours_mbs / base_mbs:.1f}x (target: >= 25 MB/s absolute)")
    print(
        f"peak RSS of extraction: {rss_small:.0f} MB ({small.stat().st_size / 1e6:.0f} MB "
        f"archive) vs {rss_large:.0f} MB ({mb:.0f} MB archive)"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
