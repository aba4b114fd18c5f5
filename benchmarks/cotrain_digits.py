"""Benchmark (not a test): co-train WRN on digits at S = 1, 2, 4 with equal FLOPs.

Prints ensemble and member accuracy, training images/s and the latency table, e.g.
    .venv/bin/python benchmarks/cotrain_digits.py --depth 10 --width 4 --image-size 16 --epochs 8
"""

from __future__ import annotations

import argparse

from tabulate import tabulate

from space import Candidate, Recipe, estimate
from trainers import load_data, measure_latency, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--mode", default="cotrain", choices=["cotrain", "independent"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = load_data("digits", seed=args.seed)
    recipe = Recipe(epochs=args.epochs, batch_size=64, lr=0.05, warmup_epochs=1,
                    js_warmup_epochs=2, augmentation="crop", mode=args.mode)  # fmt: skip
    rows, latency_rows = [], []
    for networks in (1, 2, 4):
        candidate = Candidate("wide_resnet", args.depth, args.width, networks=networks,
                              image_size=args.image_size, in_channels=1, recipe=recipe)  # fmt: skip
        result = train(candidate, data, seed=args.seed)
        cost = estimate(candidate)
        members = " ".join(f"{a:.3f}" for a in result.val.member_accuracies)
        rows.append([candidate.label, f"{cost.gflops * 1e3:.2f}", f"{cost.params_m:.3f}",
                     f"{result.val.accuracy:.4f}", members, f"{result.images_per_s:.0f}",
                     f"{result.train_seconds:.1f}"])  # fmt: skip
        table = measure_latency(candidate, batches=(1, 64), warmup=3, repeats=15)
        for r in table.rows:
            latency_rows.append(
                [candidate.label, r.mode, r.batch, f"{r.median_ms:.2f}", f"{r.p90_ms:.2f}"]
            )
        print(f"done {candidate.label}", flush=True)
    print(f"\nvalidation: {len(data.val)} digits images; device {table.device}")
    headers = [
        "candidate",
        "MFLOPs",
        "params M",
        "ensemble acc",
        "member accs",
        "train img/s",
        "train s",
    ]
    print(tabulate(rows, headers=headers))
    print()
    print(tabulate(latency_rows, headers=["candidate", "mode", "batch", "median ms", "p90 ms"]))


if __name__ == "__main__":
    main()
