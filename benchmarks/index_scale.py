"""Benchmark (not a test): indexing an ImageNet-size image folder before the first step.

Writes a synthetic folder of `--files` small images (a few encoded JPEG and PNG files, colour
and grey, reused: bytes written straight to disk, so 200 000 files take seconds, not an hour of
encoding), then times `trainers.data.index.load_index` cold (walk + every header) and from its
cache (walk + the cached arrays), prints files/s and extrapolates to ImageNet's 1.28 M training
files. On a `--compare` subset it times ways to read the headers: one thread, today's thread
pool, processes. e.g.
    nice .venv/bin/python benchmarks/index_scale.py --files 200000 --compare 20000
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tabulate import tabulate

from trainers.data import index as folder_index

IMAGENET_FILES = 1_281_167
CLASSES = 100


def cpu() -> float:
    """User + system seconds of this process and its finished children (a busy machine
    stretches wall time, much less this)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def encoded_images() -> list[tuple[str, bytes]]:
    """Six tiny images: JPEG and PNG, colour and grey, of a few sizes."""
    rng = np.random.default_rng(0)
    out = []
    for i, (w, h) in enumerate(((32, 24), (48, 40), (20, 36))):
        pixels = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
        for fmt, ext in (("JPEG", "jpg"), ("PNG", "png")):
            image = Image.fromarray(pixels if i != 2 else pixels[..., 0])  # the last is grey
            buffer = io.BytesIO()
            image.save(buffer, format=fmt)
            out.append((ext, buffer.getvalue()))
    return out


def generate(root: Path, files: int) -> Path:
    folder = root / f"folder-{files}"
    if (folder / ".complete").is_file():
        return folder
    images = encoded_images()
    for c in range(CLASSES):
        (folder / f"n{c:08d}").mkdir(parents=True, exist_ok=True)
    for i in range(files):
        ext, data = images[i % len(images)]
        with open(folder / f"n{i % CLASSES:08d}" / f"{i:07d}.{ext}", "wb") as f:
            f.write(data)
    (folder / ".complete").touch()
    return folder


def classes_of(folder: Path) -> tuple[str, ...]:
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_dir()))


def _headers(paths: list[Path]) -> list[tuple[int, int, bool] | None]:
    return [folder_index._header(p) for p in paths]


def compare(folder: Path, count: int, workers: int) -> list[list[str]]:
    """Seconds to read `count` headers one after another, in today's threads, in processes."""
    files, _ = folder_index._walk(folder, classes_of(folder))
    paths = [folder / n for names in files for n in names][:count]
    chunks = [paths[i : i + 2000] for i in range(0, len(paths), 2000)]

    def threads() -> list:
        with ThreadPoolExecutor(folder_index.SCAN_THREADS) as pool:
            return list(pool.map(folder_index._header, paths))

    def processes() -> list:
        with ProcessPoolExecutor(workers) as pool:
            return [h for part in pool.map(_headers, chunks) for h in part]

    ways = {
        "one thread": lambda: _headers(paths),
        f"{folder_index.SCAN_THREADS} threads (today)": threads,
        f"{workers} processes": processes,
    }
    rows, reference = [], None
    for name, way in ways.items():
        start, used = time.perf_counter(), cpu()
        headers = way()
        seconds, used = time.perf_counter() - start, cpu() - used
        reference = reference or headers
        same = "same" if headers == reference else "DIFFERENT"
        rows.append([f"headers, {name}", len(paths), f"{seconds:.1f}", f"{used:.1f}",
                     f"{len(paths) / seconds:,.0f}", same])  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--compare", type=int, default=20_000, help="files for the header ways")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "divco-index-scale"
    )
    parser.add_argument("--keep", action="store_true", help="keep the folder for the next run")
    args = parser.parse_args()
    start, used = time.perf_counter(), cpu()
    folder = generate(args.dir, args.files)
    rows = [["write the folder", args.files, f"{time.perf_counter() - start:.1f}",
             f"{cpu() - used:.1f}", "", ""]]  # fmt: skip
    cache = Path(tempfile.mkdtemp(prefix="divco-index-cache-"))
    try:
        classes = classes_of(folder)
        for what in ("index, cold (walk + every header)", "index, from the cache (walk + arrays)"):
            start, used = time.perf_counter(), cpu()
            index = folder_index.load_index(folder, classes, cache)
            seconds, used = time.perf_counter() - start, cpu() - used
            rate, cpu_rate = len(index) / seconds, len(index) / max(used, 1e-9)
            rows.append([what, len(index), f"{seconds:.1f}", f"{used:.1f}", f"{rate:,.0f}",
                         f"1.28 M files: {IMAGENET_FILES / rate / 60:.1f} min wall, "
                         f"{IMAGENET_FILES / cpu_rate / 60:.1f} min CPU"])  # fmt: skip
            print("done", *rows[-1], flush=True)
        rows += compare(folder, args.compare, args.workers)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(tabulate(rows, headers=["what", "files", "wall s", "CPU s", "files/s (wall)", "note"]))


if __name__ == "__main__":
    main()
