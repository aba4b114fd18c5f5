"""Benchmark (not a test): trials per hour with 1 and with 2 CPU workers on the same tiny space.

Runs `searcher run --workers K` as a real command for K = 1, 2 on fresh SQLite storages and
prints wall time and trials/hour, e.g.  .venv/bin/python benchmarks/worker_throughput.py
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

SPACE = """
families:
  resnet: {depths: [8], widths: [4, 8, 16]}
  wide_resnet: {depths: [10], widths: [1, 2]}
networks: [1, 2, 4]
image_sizes: [8, 12, 16]
recipe: {epochs: 3, batch_size: 64, lr: 0.05, warmup_epochs: 0.5, js_warmup_epochs: 1, augmentation: crop}
"""


def run(workers: int, trials: int, directory: Path) -> float:
    (directory / "space.yaml").write_text(SPACE)
    command = [sys.executable, "-m", "searcher.cli.main", "run", "--space", "space.yaml", "--no-pruning",
               "--workers", str(workers), "--n-trials", str(trials)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, cwd=directory, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    args = parser.parse_args()
    rows = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            seconds = run(workers, args.trials, Path(tmp))
        rows.append([workers, args.trials, f"{seconds:.1f}", f"{args.trials / seconds * 3600:.0f}"])
        print(f"done with {workers} worker(s)", flush=True)
    print(tabulate(rows, headers=["CPU workers", "trained trials", "wall s", "trials/hour"]))


if __name__ == "__main__":
    main()
