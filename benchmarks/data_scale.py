"""Benchmark (not a test): in-memory against streaming image folders as the folder grows.

Generates seeded folders of JPEGs (64-96 px, 10 classes) and, for each size, data mode and S,
trains a small candidate for one epoch in a fresh process, printing the training process's
peak RSS (and its largest loader worker's; memory has none), training images/s (as a trial
records it: the epoch and its validation), the CPU time per trained image of the process and its
workers (what a busy machine distorts least) and the time from loading the data to the first
optimizer step, e.g.
    .venv/bin/python benchmarks/data_scale.py --images 5000 20000 --networks 1 4
    .venv/bin/python benchmarks/data_scale.py --images 1000 4000 --px 192 192 --modes memory \
        --networks 1 --time-limit 10   # issue 26: RSS growth per decoded byte, in memory
Runs on CUDA when it exists (--device). Folders are kept in --dir and reused. On a slow CPU,
--time-limit S ends each epoch after S seconds (images/s is then over that part of the epoch).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tabulate import tabulate

CLASSES = 10


def generate(root: Path, images: int, seed: int, px: tuple[int, int] = (64, 96)) -> Path:
    """`images` JPEGs of px[0]-px[1] px: a class colour, a low-frequency pattern and noise."""
    suffix = "" if px == (64, 96) else f"-{px[0]}-{px[1]}px"
    folder = root / f"folder-{images}-{seed}{suffix}"
    if (folder / ".complete").is_file():
        return folder
    rng = np.random.default_rng(seed)
    colours = rng.integers(40, 216, size=(CLASSES, 3))
    for i in range(images):
        label = i % CLASSES
        w, h = (int(v) for v in rng.integers(px[0], px[1] + 1, size=2))
        pattern = rng.integers(0, 80, size=(6, 6, 3), dtype=np.uint8)
        base = np.asarray(Image.fromarray(pattern).resize((w, h), Image.Resampling.BILINEAR))
        noise = rng.integers(0, 24, size=(h, w, 3))
        pixels = np.clip(base.astype(int) + colours[label] - 40 + noise, 0, 255).astype(np.uint8)
        path = folder / f"class{label}" / f"{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, quality=90)
    (folder / ".complete").touch()
    return folder


def peak_rss_mb(pid: int | None) -> float:
    """A live process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the loader workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def child(config: dict) -> dict:
    """One measurement, in its own process so its peak RSS is its own."""
    import torch

    from space import Candidate, Recipe
    from trainers import load_data
    from trainers.train.cotrain import CoTrainer

    start = time.perf_counter()
    first_step: list[float] = []

    class Timed(CoTrainer):
        def _step(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            out = super()._step(*args, **kwargs)
            if not first_step:
                first_step.append(time.perf_counter() - start)
            return out

    torch.manual_seed(0)
    data = load_data("imagefolder", config["folder"], seed=0, mode=config["mode"],
                     workers=config["workers"])  # fmt: skip
    loaded = time.perf_counter() - start
    held = [s for s in (data.train, data.val, data.test) if hasattr(s, "images")]
    decoded = sum(s.images.nbytes for s in held)  # views of one tensor: the pixels once
    recipe = Recipe(epochs=1, batch_size=128, lr=0.05, warmup_epochs=0, js_warmup_epochs=1,
                    augmentation="crop_flip", time_limit_s=config["time_limit"])  # fmt: skip
    candidate = Candidate("resnet", 8, config["width"], networks=config["networks"],
                          image_size=config["image_size"], in_channels=data.in_channels,
                          num_classes=data.num_classes, recipe=recipe)  # fmt: skip
    trainer = Timed(candidate, data, 0, config["device"])
    cpu_start = cpu_seconds()
    try:
        result = trainer.fit()
        worker_mb = max((peak_rss_mb(p.pid) for p in multiprocessing.active_children()), default=0)
    finally:
        trainer.close()
    seen = result.images_per_s * result.train_seconds
    return {
        "cpu_ms": (cpu_seconds() - cpu_start) / max(seen, 1) * 1000,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_rss_mb": worker_mb,
        "images_per_s": result.images_per_s,
        "epoch": "part" if result.stopped_by == "time_limit" else "full",
        "load_s": loaded,
        "first_step_s": first_step[0] if first_step else float("nan"),
        "accuracy": result.val.accuracy,
        "device": str(trainer.device),
        "decoded_mb": decoded / 1e6,
        "note": data.note,
    }


def measure(config: dict) -> dict:
    command = [sys.executable, __file__, "--child", json.dumps(config)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--networks", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--modes", nargs="+", default=["memory", "stream"])
    parser.add_argument("--width", type=int, default=16, help="ResNet-8 width (S=1)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--px", type=int, nargs=2, default=[64, 96], metavar=("MIN", "MAX"),
                        help="side range of the generated JPEGs")  # fmt: skip
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per epoch")
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "divco-data-scale"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    rows, grown = [], {}
    for images in args.images:
        folder = generate(args.dir, images, seed=0, px=tuple(args.px))
        for networks in args.networks:
            for mode in args.modes:
                config = {"folder": str(folder), "mode": mode, "networks": networks,
                          "width": args.width, "image_size": args.image_size,
                          "workers": args.workers, "device": args.device,
                          "time_limit": args.time_limit}  # fmt: skip
                r = measure(config)
                grown.setdefault((mode, networks), []).append((r["decoded_mb"], r["rss_mb"]))
                rows.append([images, mode, networks, f"{r['rss_mb']:.0f}", f"{r['worker_rss_mb']:.0f}",
                             f"{r['images_per_s']:.0f}", r["epoch"], f"{r['cpu_ms']:.2f}", f"{r['load_s']:.1f}",
                             f"{r['first_step_s']:.1f}", f"{r['accuracy']:.3f}", r["device"],
                             f"{r['decoded_mb']:.0f}" if r["decoded_mb"] else "-"])  # fmt: skip
                print("done", *rows[-1], flush=True)
    headers = ["images", "mode", "S", "peak RSS MB", "worker RSS MB", "train img/s", "epoch",
               "CPU ms/img",
               "load s", "first step s", "val acc", "device", "decoded MB"]  # fmt: skip
    print(tabulate(rows, headers=headers))
    print_growth(grown)


def print_growth(grown: dict[tuple[str, int], list[tuple[float, float]]]) -> None:
    """In memory: peak RSS growth from the smallest folder to the largest, per decoded MB added
    (issue 26 asks at most 1.5)."""
    for (mode, networks), points in grown.items():
        (d0, r0), (d1, r1) = points[0], points[-1]
        if mode == "memory" and d1 > d0:
            print(f"memory, S={networks}: peak RSS +{r1 - r0:.0f} MB for +{d1 - d0:.0f} MB of "
                  f"decoded pixels: {(r1 - r0) / (d1 - d0):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
